/// Bilinear resizing of NCHW tensors with PyTorch semantics:
/// `F.interpolate(x, size=(height, width), mode="bilinear", align_corners=..., antialias=False)`.

public enum BilinearResize {
    /// Per output index along one axis: the two source indices and their weights
    /// (PyTorch's compute_source_index_and_lambda, in Float like its CPU kernel).
    struct AxisTaps {
        struct Tap { var i0 = 0, i1 = 0; var l0: Float = 1, l1: Float = 0 }
        var taps: [Tap]

        init(input: Int, output: Int, alignCorners: Bool) {
            taps = [Tap](repeating: Tap(), count: output)
            let scale: Float = alignCorners
                ? (output > 1 ? Float(input - 1) / Float(output - 1) : 0)
                : Float(input) / Float(output)
            for o in 0..<output {
                if input == output {
                    taps[o].i0 = o; taps[o].i1 = o
                    continue
                }
                let src: Float = alignCorners ? scale * Float(o) : max(scale * (Float(o) + 0.5) - 0.5, 0)
                let f = min(Int(src.rounded(.down)), input - 1)
                let lambda = min(max(src - Float(f), 0), 1)
                taps[o].i0 = f
                taps[o].i1 = f + (f < input - 1 ? 1 : 0)
                taps[o].l1 = lambda
                taps[o].l0 = 1 - lambda
            }
        }
    }

    /// One output pixel's four source pixels: flat indices r0 + c0, r0 + c1, r1 + c0, r1 + c1
    /// (r0, r1 the source rows' offsets in the input, c0, c1 the columns), row weights a0, a1
    /// and column weights l0, l1.
    struct Sample { var o, r0, r1, c0, c1: Int; var a0, a1, l0, l1: Float }

    /// Calls body for every output pixel of a [planes, h, w] → [planes, height, width] resize,
    /// in order (o is the output's flat index).
    @inline(__always)
    static func forEachSample(planes: Int, h: Int, w: Int, height: Int, width: Int, alignCorners: Bool,
                              _ body: (Sample) -> Void) {
        let th = AxisTaps(input: h, output: height, alignCorners: alignCorners)
        let tw = AxisTaps(input: w, output: width, alignCorners: alignCorners)
        withPointers(th.taps, tw.taps) { rt, ct in
            for p in 0..<planes {
                let xo = p * h * w, yo = p * height * width
                for oh in 0..<height {
                    let r = rt[oh], yr = yo + oh * width
                    for ow in 0..<width {
                        let c = ct[ow]
                        body(Sample(o: yr + ow, r0: xo + r.i0 * w, r1: xo + r.i1 * w, c0: c.i0, c1: c.i1,
                                    a0: r.l0, a1: r.l1, l0: c.l0, l1: c.l1))
                    }
                }
            }
        }
    }

    public static func forward(_ x: Tensor, height: Int, width: Int, alignCorners: Bool) -> Tensor {
        precondition(x.rank == 4 && height >= 1 && width >= 1 && x.shape[2] >= 1 && x.shape[3] >= 1,
                     "BilinearResize.forward: want x [N,C,H,W] and a positive size, got x \(x.shape), size \(height)×\(width)")
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        var y = [Float](repeating: 0, count: planes * height * width)
        withPointers(x, mutating: &y) { xp, yp in
            forEachSample(planes: planes, h: h, w: w, height: height, width: width, alignCorners: alignCorners) { s in
                yp[s.o] = s.a0 * (s.l0 * xp[s.r0 + s.c0] + s.l1 * xp[s.r0 + s.c1])
                        + s.a1 * (s.l0 * xp[s.r1 + s.c0] + s.l1 * xp[s.r1 + s.c1])
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
        var dx = [Float](repeating: 0, count: planes * h * w)
        withPointers(dy, mutating: &dx) { dp, xp in
            forEachSample(planes: planes, h: h, w: w, height: height, width: width, alignCorners: alignCorners) { s in
                let g = dp[s.o]
                xp[s.r0 + s.c0] += s.a0 * s.l0 * g
                xp[s.r0 + s.c1] += s.a0 * s.l1 * g
                xp[s.r1 + s.c0] += s.a1 * s.l0 * g
                xp[s.r1 + s.c1] += s.a1 * s.l1 * g
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
