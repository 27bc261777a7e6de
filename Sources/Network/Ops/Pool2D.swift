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

    /// The window of output o along one axis: [start, end) clipped to the input, and the size
    /// average pooling counts with padding (PyTorch clips the end at in + pad, counts that padded
    /// size, then clips to the input).
    typealias Window = (start: Int, end: Int, paddedCount: Int)

    @inline(__always)
    static func window(_ o: Int, _ kernel: Int, _ stride: Int, _ padding: Int, _ input: Int) -> Window {
        let s0 = o * stride - padding
        let e0 = min(s0 + kernel, input + padding)
        return (max(s0, 0), min(e0, input), e0 - s0)
    }

    /// Calls body(plane, o, rows, cols) for every output element, in order: its plane (n·C + c),
    /// its flat index o and its window along H and along W.
    @inline(__always)
    static func forEachWindow(_ p: (n: Int, c: Int, h: Int, w: Int, oh: Int, ow: Int), kernel: Int, stride: Int,
                              padding: Int, _ body: (_ plane: Int, _ o: Int, _ rows: Window, _ cols: Window) -> Void) {
        let ohw = p.oh * p.ow
        for pl in 0..<(p.n * p.c) {
            for oh in 0..<p.oh {
                let wh = window(oh, kernel, stride, padding, p.h)
                for ow in 0..<p.ow {
                    body(pl, pl * ohw + oh * p.ow + ow, wh, window(ow, kernel, stride, padding, p.w))
                }
            }
        }
    }

    /// Calls body(ih·width + iw) for every input position of a window, row by row.
    @inline(__always)
    static func forEachInput(_ rows: Window, _ cols: Window, width: Int, _ body: (Int) -> Void) {
        for ih in rows.start..<max(rows.start, rows.end) {
            for iw in cols.start..<max(cols.start, cols.end) { body(ih * width + iw) }
        }
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
        withPointers(x, mutating: &y, &arg) { xb, yb, ab in
            forEachWindow(p, kernel: kernel, stride: stride, padding: padding) { pl, o, wh, ww in
                let xp = xb + pl * hw
                var best = -Float.infinity
                var bi = wh.start * p.w + ww.start
                forEachInput(wh, ww, width: p.w) { i in
                    let v = xp[i]
                    if v > best || v.isNaN { best = v; bi = i }
                }
                yb[o] = best
                ab[o] = Int32(pl * hw + bi)
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
        withPointers(dy, argmax, mutating: &dx) { db, ab, xb in
            for i in 0..<dy.count {
                let j = Int(ab[i])
                precondition(j >= 0 && j < total, "Pool2D.maxBackward: argmax \(j) outside input \(inputShape)")
                xb[j] += db[i]
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }

    // MARK: average

    /// The divisor of output element (rows, cols): the padded window size, or the in-input one.
    @inline(__always)
    static func divisor(_ rows: Window, _ cols: Window, countIncludePad: Bool) -> Int {
        countIncludePad ? rows.paddedCount * cols.paddedCount : (rows.end - rows.start) * (cols.end - cols.start)
    }

    public static func avgForward(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0,
                                  ceilMode: Bool = false, countIncludePad: Bool = true) -> Tensor {
        let p = geometry(x.shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                         "Pool2D.avgForward")
        let planes = p.n * p.c, hw = p.h * p.w, ohw = p.oh * p.ow
        var y = [Float](repeating: 0, count: planes * ohw)
        withPointers(x, mutating: &y) { xb, yb in
            forEachWindow(p, kernel: kernel, stride: stride, padding: padding) { pl, o, wh, ww in
                let xp = xb + pl * hw
                let count = divisor(wh, ww, countIncludePad: countIncludePad)
                var acc: Float = 0
                forEachInput(wh, ww, width: p.w) { acc += xp[$0] }
                yb[o] = count > 0 ? acc / Float(count) : 0
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
        let planes = p.n * p.c, hw = p.h * p.w
        var dx = [Float](repeating: 0, count: planes * hw)
        withPointers(dy, mutating: &dx) { db, xb in
            forEachWindow(p, kernel: kernel, stride: stride, padding: padding) { pl, o, wh, ww in
                let xp = xb + pl * hw
                let count = divisor(wh, ww, countIncludePad: countIncludePad)
                if count <= 0 { return }
                let g = db[o] / Float(count)
                forEachInput(wh, ww, width: p.w) { xp[$0] += g }
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
