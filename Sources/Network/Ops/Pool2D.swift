/// 2-D max and average pooling over NCHW tensors with PyTorch semantics
/// (`F.max_pool2d` / `F.avg_pool2d`, square kernel, no dilation).

public enum Pool2D {
    /// PyTorch's pooling_output_shape: floor or ceil of (in + 2·pad − k)/stride, plus one; in ceil mode
    /// the last window must start inside the input or the left padding.
    static func outputSize(_ input: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
        let span = input + 2 * padding - kernel + (ceilMode ? stride - 1 : 0)
        var out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1
        if ceilMode && (out - 1) * stride >= input + padding { out -= 1 }
        return out
    }

    static func geometry(_ xs: [Int], kernel: Int, stride: Int, padding: Int, ceilMode: Bool,
                         _ op: String) -> (n: Int, c: Int, h: Int, w: Int, oh: Int, ow: Int) {
        precondition(xs.count == 4, "\(op): want x [N,C,H,W], got \(xs)")
        precondition(kernel >= 1 && stride >= 1 && padding >= 0 && padding <= kernel / 2,
                     "\(op): invalid kernel \(kernel), stride \(stride), padding \(padding) (padding must be ≤ kernel/2)")
        let oh = outputSize(xs[2], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
        let ow = outputSize(xs[3], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
        precondition(oh >= 1 && ow >= 1, "\(op): empty output for x \(xs), kernel \(kernel), stride \(stride)")
        return (xs[0], xs[1], xs[2], xs[3], oh, ow)
    }

    // MARK: max

    /// Max pool; padding counts as −inf, NaN propagates. `argmax[i]` is the flat index into the whole
    /// input tensor (n·C·H·W + c·H·W + h·W + w) of the value chosen for output element i.
    public static func maxForward(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0,
                                  ceilMode: Bool = false) -> (y: Tensor, argmax: [Int32]) {
        let p = geometry(x.shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                         "Pool2D.maxForward")
        precondition(x.count <= Int(Int32.max), "Pool2D.maxForward: input \(x.shape) too large for Int32 indices")
        let planes = p.n * p.c, hw = p.h * p.w, ohw = p.oh * p.ow
        var y = [Float](repeating: 0, count: planes * ohw)
        var arg = [Int32](repeating: 0, count: planes * ohw)
        x.data.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                arg.withUnsafeMutableBufferPointer { ab in
                    for pl in 0..<planes {
                        let xp = xb.baseAddress! + pl * hw
                        for oh in 0..<p.oh {
                            let h0 = oh * stride - padding
                            let hs = max(h0, 0), he = min(h0 + kernel, p.h)
                            for ow in 0..<p.ow {
                                let w0 = ow * stride - padding
                                let ws = max(w0, 0), we = min(w0 + kernel, p.w)
                                var best = -Float.infinity
                                var bi = hs * p.w + ws
                                for ih in hs..<he {
                                    for iw in ws..<we {
                                        let v = xp[ih * p.w + iw]
                                        if v > best || v.isNaN { best = v; bi = ih * p.w + iw }
                                    }
                                }
                                let o = pl * ohw + oh * p.ow + ow
                                yb[o] = best
                                ab[o] = Int32(pl * hw + bi)
                            }
                        }
                    }
                }
            }
        }
        return (Tensor(shape: [p.n, p.c, p.oh, p.ow], data: y), arg)
    }

    /// dx[argmax[i]] += dy[i].
    public static func maxBackward(_ dy: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
        precondition(argmax.count == dy.count,
                     "Pool2D.maxBackward: dy \(dy.shape) has \(dy.count) values, argmax has \(argmax.count)")
        precondition(inputShape.count == 4 && dy.rank == 4 && dy.shape[0] == inputShape[0] && dy.shape[1] == inputShape[1],
                     "Pool2D.maxBackward: dy \(dy.shape) does not fit input shape \(inputShape)")
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        let total = dx.count
        dy.data.withUnsafeBufferPointer { db in
            argmax.withUnsafeBufferPointer { ab in
                dx.withUnsafeMutableBufferPointer { xb in
                    for i in 0..<db.count {
                        let j = Int(ab[i])
                        precondition(j >= 0 && j < total, "Pool2D.maxBackward: argmax \(j) outside input \(inputShape)")
                        xb[j] += db[i]
                    }
                }
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }

    // MARK: average

    /// Window of output (oh, ow) along one axis: PyTorch clips the end at in + pad, counts that
    /// (padded) size, then clips to the input.
    @inline(__always)
    static func avgWindow(_ o: Int, _ kernel: Int, _ stride: Int, _ padding: Int, _ input: Int)
        -> (start: Int, end: Int, paddedCount: Int) {
        let s0 = o * stride - padding
        let e0 = min(s0 + kernel, input + padding)
        return (max(s0, 0), min(e0, input), e0 - s0)
    }

    public static func avgForward(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0,
                                  ceilMode: Bool = false, countIncludePad: Bool = true) -> Tensor {
        let p = geometry(x.shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                         "Pool2D.avgForward")
        let planes = p.n * p.c, hw = p.h * p.w, ohw = p.oh * p.ow
        var y = [Float](repeating: 0, count: planes * ohw)
        x.data.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                for pl in 0..<planes {
                    let xp = xb.baseAddress! + pl * hw
                    for oh in 0..<p.oh {
                        let wh = avgWindow(oh, kernel, stride, padding, p.h)
                        for ow in 0..<p.ow {
                            let ww = avgWindow(ow, kernel, stride, padding, p.w)
                            let count = countIncludePad ? wh.paddedCount * ww.paddedCount
                                                        : (wh.end - wh.start) * (ww.end - ww.start)
                            var acc: Float = 0
                            for ih in wh.start..<max(wh.start, wh.end) {
                                for iw in ww.start..<max(ww.start, ww.end) { acc += xp[ih * p.w + iw] }
                            }
                            yb[pl * ohw + oh * p.ow + ow] = count > 0 ? acc / Float(count) : 0
                        }
                    }
                }
            }
        }
        return Tensor(shape: [p.n, p.c, p.oh, p.ow], data: y)
    }

    public static func avgBackward(_ dy: Tensor, inputShape: [Int], kernel: Int, stride: Int, padding: Int = 0,
                                   ceilMode: Bool = false, countIncludePad: Bool = true) -> Tensor {
        let p = geometry(inputShape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                         "Pool2D.avgBackward")
        precondition(dy.shape == [p.n, p.c, p.oh, p.ow],
                     "Pool2D.avgBackward: dy \(dy.shape), want \([p.n, p.c, p.oh, p.ow]) for input \(inputShape)")
        let planes = p.n * p.c, hw = p.h * p.w, ohw = p.oh * p.ow
        var dx = [Float](repeating: 0, count: planes * hw)
        dy.data.withUnsafeBufferPointer { db in
            dx.withUnsafeMutableBufferPointer { xb in
                for pl in 0..<planes {
                    let xp = xb.baseAddress! + pl * hw
                    for oh in 0..<p.oh {
                        let wh = avgWindow(oh, kernel, stride, padding, p.h)
                        for ow in 0..<p.ow {
                            let ww = avgWindow(ow, kernel, stride, padding, p.w)
                            let count = countIncludePad ? wh.paddedCount * ww.paddedCount
                                                        : (wh.end - wh.start) * (ww.end - ww.start)
                            if count <= 0 { continue }
                            let g = db[pl * ohw + oh * p.ow + ow] / Float(count)
                            for ih in wh.start..<max(wh.start, wh.end) {
                                for iw in ww.start..<max(ww.start, ww.end) { xp[ih * p.w + iw] += g }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
