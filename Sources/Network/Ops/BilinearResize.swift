/// Bilinear resizing of NCHW tensors with PyTorch semantics:
/// `F.interpolate(x, size=(height, width), mode="bilinear", align_corners=..., antialias=False)`.

public enum BilinearResize {
    /// Per output index along one axis: the two source indices and their weights
    /// (PyTorch's compute_source_index_and_lambda, in Float like its CPU kernel).
    struct AxisTaps {
        var i0: [Int], i1: [Int], l0: [Float], l1: [Float]

        init(input: Int, output: Int, alignCorners: Bool) {
            i0 = [Int](repeating: 0, count: output); i1 = i0
            l0 = [Float](repeating: 1, count: output); l1 = [Float](repeating: 0, count: output)
            let scale: Float = alignCorners
                ? (output > 1 ? Float(input - 1) / Float(output - 1) : 0)
                : Float(input) / Float(output)
            for o in 0..<output {
                if input == output {
                    i0[o] = o; i1[o] = o
                    continue
                }
                let src: Float = alignCorners ? scale * Float(o) : max(scale * (Float(o) + 0.5) - 0.5, 0)
                let f = min(Int(src.rounded(.down)), input - 1)
                let lambda = min(max(src - Float(f), 0), 1)
                i0[o] = f
                i1[o] = f + (f < input - 1 ? 1 : 0)
                l1[o] = lambda
                l0[o] = 1 - lambda
            }
        }
    }

    public static func forward(_ x: Tensor, height: Int, width: Int, alignCorners: Bool) -> Tensor {
        precondition(x.rank == 4 && height >= 1 && width >= 1 && x.shape[2] >= 1 && x.shape[3] >= 1,
                     "BilinearResize.forward: want x [N,C,H,W] and a positive size, got x \(x.shape), size \(height)×\(width)")
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let th = AxisTaps(input: h, output: height, alignCorners: alignCorners)
        let tw = AxisTaps(input: w, output: width, alignCorners: alignCorners)
        var y = [Float](repeating: 0, count: planes * height * width)
        x.data.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                th.i0.withUnsafeBufferPointer { h0 in th.i1.withUnsafeBufferPointer { h1 in
                th.l0.withUnsafeBufferPointer { hl0 in th.l1.withUnsafeBufferPointer { hl1 in
                tw.i0.withUnsafeBufferPointer { w0 in tw.i1.withUnsafeBufferPointer { w1 in
                tw.l0.withUnsafeBufferPointer { wl0 in tw.l1.withUnsafeBufferPointer { wl1 in
                    for p in 0..<planes {
                        let xp = xb.baseAddress! + p * h * w
                        let yp = yb.baseAddress! + p * height * width
                        for oh in 0..<height {
                            let r0 = xp + h0[oh] * w, r1 = xp + h1[oh] * w
                            let a0 = hl0[oh], a1 = hl1[oh]
                            let yr = yp + oh * width
                            for ow in 0..<width {
                                let c0 = w0[ow], c1 = w1[ow]
                                yr[ow] = a0 * (wl0[ow] * r0[c0] + wl1[ow] * r0[c1])
                                       + a1 * (wl0[ow] * r1[c0] + wl1[ow] * r1[c1])
                            }
                        }
                    }
                }}}}}}}}
            }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], height, width], data: y)
    }

    /// The adjoint: each dy entry is scattered to its four source pixels with the same weights.
    public static func backward(_ dy: Tensor, inputShape: [Int], alignCorners: Bool) -> Tensor {
        precondition(dy.rank == 4 && inputShape.count == 4 && dy.shape[0] == inputShape[0] && dy.shape[1] == inputShape[1],
                     "BilinearResize.backward: dy \(dy.shape) does not fit input shape \(inputShape)")
        let (planes, h, w) = (inputShape[0] * inputShape[1], inputShape[2], inputShape[3])
        let (height, width) = (dy.shape[2], dy.shape[3])
        let th = AxisTaps(input: h, output: height, alignCorners: alignCorners)
        let tw = AxisTaps(input: w, output: width, alignCorners: alignCorners)
        var dx = [Float](repeating: 0, count: planes * h * w)
        dy.data.withUnsafeBufferPointer { db in
            dx.withUnsafeMutableBufferPointer { xb in
                th.i0.withUnsafeBufferPointer { h0 in th.i1.withUnsafeBufferPointer { h1 in
                th.l0.withUnsafeBufferPointer { hl0 in th.l1.withUnsafeBufferPointer { hl1 in
                tw.i0.withUnsafeBufferPointer { w0 in tw.i1.withUnsafeBufferPointer { w1 in
                tw.l0.withUnsafeBufferPointer { wl0 in tw.l1.withUnsafeBufferPointer { wl1 in
                    for p in 0..<planes {
                        let xp = xb.baseAddress! + p * h * w
                        let dp = db.baseAddress! + p * height * width
                        for oh in 0..<height {
                            let r0 = xp + h0[oh] * w, r1 = xp + h1[oh] * w
                            let a0 = hl0[oh], a1 = hl1[oh]
                            let dr = dp + oh * width
                            for ow in 0..<width {
                                let g = dr[ow]
                                let c0 = w0[ow], c1 = w1[ow]
                                r0[c0] += a0 * wl0[ow] * g
                                r0[c1] += a0 * wl1[ow] * g
                                r1[c0] += a1 * wl0[ow] * g
                                r1[c1] += a1 * wl1[ow] * g
                            }
                        }
                    }
                }}}}}}}}
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
