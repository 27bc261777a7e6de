/// Same-shape arithmetic, plus a per-channel bias broadcast (b [C] over axis `axis`, e.g.
/// 1 for NCHW or -1 for [..., C]) and its backward (the sum of dy over all other axes).
public enum Elementwise {
    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor { mapSIMD2(a, b, op: "Elementwise.add") { $0 + $1 } }
    public static func sub(_ a: Tensor, _ b: Tensor) -> Tensor { mapSIMD2(a, b, op: "Elementwise.sub") { $0 - $1 } }
    public static func mul(_ a: Tensor, _ b: Tensor) -> Tensor { mapSIMD2(a, b, op: "Elementwise.mul") { $0 * $1 } }
    public static func scale(_ a: Tensor, _ s: Float) -> Tensor { mapSIMD(a) { $0 * s } }

    /// y = a·b: da = dy·b, db = dy·a.
    public static func mulBackward(_ dy: Tensor, _ a: Tensor, _ b: Tensor) -> (da: Tensor, db: Tensor) {
        precondition(dy.shape == a.shape && a.shape == b.shape,
                     "Elementwise.mulBackward: dy \(dy.shape), a \(a.shape), b \(b.shape) must match")
        return (mul(dy, b), mul(dy, a))
    }

    /// a += b, in place (gradient accumulation).
    public static func addInPlace(_ a: inout Tensor, _ b: Tensor) {
        precondition(a.shape == b.shape, "Elementwise.addInPlace: shapes differ: \(a.shape) vs \(b.shape)")
        let n = a.count
        withPointers(b, mutating: &a) { bp, ap in
            var i = 0
            while i + 8 <= n { store8(load8(ap, i) + load8(bp, i), ap, i); i += 8 }
            while i < n { ap[i] += bp[i]; i += 1 }
        }
    }

    /// y = x + b broadcast along `axis` (negative counts from the end).
    public static func addChannelBias(_ x: Tensor, _ b: Tensor, axis: Int = 1) -> Tensor {
        let (outer, c, inner) = channelSplit("Elementwise.addChannelBias", x.shape, axis)
        precondition(b.shape == [c], "Elementwise.addChannelBias: bias \(b.shape) must be [\(c)] for x \(x.shape), axis \(axis)")
        var y = x
        y.data.withUnsafeMutableBufferPointer { yb in
            for o in 0..<outer {
                for ch in 0..<c {
                    let v = b.data[ch], base = (o * c + ch) * inner
                    for i in 0..<inner { yb[base + i] += v }
                }
            }
        }
        return y
    }

    /// d bias [C] = Σ dy over every axis but `axis`.
    public static func channelBiasBackward(_ dy: Tensor, axis: Int = 1) -> Tensor {
        let (outer, c, inner) = channelSplit("Elementwise.channelBiasBackward", dy.shape, axis)
        var db = [Float](repeating: 0, count: c)
        withPointers(dy) { gb in
            for o in 0..<outer {
                for ch in 0..<c { db[ch] += sumSIMD(gb + (o * c + ch) * inner, inner) }
            }
        }
        return Tensor(shape: [c], data: db)
    }

    private static func channelSplit(_ op: String, _ shape: [Int], _ axis: Int) -> (outer: Int, c: Int, inner: Int) {
        let ax = axis < 0 ? shape.count + axis : axis
        precondition(ax >= 0 && ax < shape.count, "\(op): axis \(axis) out of range for shape \(shape)")
        return (shape[..<ax].reduce(1, *), shape[ax], shape[(ax + 1)...].reduce(1, *))
    }
}
