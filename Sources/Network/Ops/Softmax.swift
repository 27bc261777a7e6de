/// Softmax over the last dimension: y = e^{x − max} / Σ e^{x − max} per row.
/// Backward from the output: dx = y · (dy − Σ dy·y).
public enum Softmax {
    public static func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 1 && x.dim(-1) > 0, "Softmax.forward: needs a non-empty last dimension, got \(x.shape)")
        let n = x.dim(-1), rows = x.count / n
        var y = [Float](repeating: 0, count: x.count)
        withPointers(x, mutating: &y) { xp, yp in
            for r in 0..<rows { softmaxRow(xp + r * n, yp + r * n, n) }
        }
        return Tensor(shape: x.shape, data: y)
    }

    public static func backward(_ dy: Tensor, output y: Tensor) -> Tensor {
        precondition(dy.shape == y.shape && y.rank >= 1 && y.dim(-1) > 0,
                     "Softmax.backward: dy \(dy.shape) and y \(y.shape) must match and be non-empty")
        let n = y.dim(-1), rows = y.count / n
        var dx = [Float](repeating: 0, count: y.count)
        withPointers(dy, y, mutating: &dx) { gp, yp, dp in
            for r in 0..<rows { softmaxBackwardRow(gp + r * n, yp + r * n, dp + r * n, n) }
        }
        return Tensor(shape: y.shape, data: dx)
    }

    /// One row of n values; `y` may alias `x` (Attention normalises its scores in place).
    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        let mv = F8(repeating: m)
        var acc = F8(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let e = SIMDMath.exp(load8(x, i) - mv)
            store8(e, y, i); acc += e; i += 8
        }
        if i < n {
            let r = n - i
            let e = SIMDMath.exp(loadPartial(x, i, r, fill: m) - mv)
            storePartial(e, y, i, r)
            acc += e.replacing(with: 0, where: SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(r)))
        }
        let inv = F8(repeating: 1 / acc.sum())
        i = 0
        while i + 8 <= n { store8(load8(y, i) * inv, y, i); i += 8 }
        while i < n { y[i] *= inv[0]; i += 1 }
    }

    /// dx = y·(dy − Σ dy·y) for one row; `dx` may alias `dy`.
    @inline(__always)
    static func softmaxBackwardRow(_ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                   _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        var acc = F8(repeating: 0)
        var i = 0
        while i + 8 <= n { acc += load8(dy, i) * load8(y, i); i += 8 }
        var dot = acc.sum()
        while i < n { dot += dy[i] * y[i]; i += 1 }
        let dv = F8(repeating: dot)
        i = 0
        while i + 8 <= n { store8(load8(y, i) * (load8(dy, i) - dv), dx, i); i += 8 }
        while i < n { dx[i] = y[i] * (dy[i] - dot); i += 1 }
    }
}
