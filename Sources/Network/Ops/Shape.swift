/// Layout ops: concat / slice along an axis (each the other's backward) and permute.
/// An axis may be negative (counted from the end). Each view of a tensor along `axis` is
/// `outer` blocks of `size·inner` contiguous values, which the copies move with memcpy-style
/// `update(from:count:)`.
public enum Shape {
    public static func concat(_ xs: [Tensor], axis: Int) -> Tensor {
        precondition(!xs.isEmpty, "Shape.concat: no tensors")
        let ax = normalise("Shape.concat", axis, xs[0].rank)
        var template = xs[0].shape
        template[ax] = 0
        var outShape = template
        for x in xs {
            var s = x.shape
            if x.rank == template.count { s[ax] = 0 }
            precondition(s == template, "Shape.concat: shapes \(xs.map(\.shape)) differ outside axis \(axis)")
            outShape[ax] += x.shape[ax]
        }
        let outer = outShape[..<ax].reduce(1, *), inner = outShape[(ax + 1)...].reduce(1, *)
        let rowOut = outShape[ax] * inner
        var y = [Float](repeating: 0, count: outShape.reduce(1, *))
        withPointers(mutating: &y) { yp in
            var col = 0
            for x in xs {
                let row = x.shape[ax] * inner
                withPointers(x) { xp in
                    for o in 0..<outer where row > 0 {
                        (yp + o * rowOut + col).update(from: xp + o * row, count: row)
                    }
                }
                col += row
            }
        }
        return Tensor(shape: outShape, data: y)
    }

    /// Splits dy back into the pieces of sizes `sizes` along `axis`.
    public static func concatBackward(_ dy: Tensor, sizes: [Int], axis: Int) -> [Tensor] {
        let ax = normalise("Shape.concatBackward", axis, dy.rank)
        precondition(sizes.reduce(0, +) == dy.shape[ax],
                     "Shape.concatBackward: sizes \(sizes) do not add up to dy \(dy.shape) along axis \(axis)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(dy, axis: ax, range: start..<(start + size))
        }
    }

    public static func slice(_ x: Tensor, axis: Int, range: Range<Int>) -> Tensor {
        let ax = normalise("Shape.slice", axis, x.rank)
        precondition(range.lowerBound >= 0 && range.upperBound <= x.shape[ax],
                     "Shape.slice: range \(range) out of bounds for x \(x.shape) along axis \(axis)")
        let outer = x.shape[..<ax].reduce(1, *), inner = x.shape[(ax + 1)...].reduce(1, *)
        let rowIn = x.shape[ax] * inner, row = range.count * inner, start = range.lowerBound * inner
        var outShape = x.shape
        outShape[ax] = range.count
        var y = [Float](repeating: 0, count: outer * row)
        withPointers(x, mutating: &y) { xp, yp in
            for o in 0..<outer where row > 0 {
                (yp + o * row).update(from: xp + o * rowIn + start, count: row)
            }
        }
        return Tensor(shape: outShape, data: y)
    }

    /// Zeros of `inputShape` with dy written into the sliced window.
    public static func sliceBackward(_ dy: Tensor, inputShape: [Int], axis: Int, range: Range<Int>) -> Tensor {
        let ax = normalise("Shape.sliceBackward", axis, inputShape.count)
        var expect = inputShape
        expect[ax] = range.count
        precondition(dy.shape == expect && range.lowerBound >= 0 && range.upperBound <= inputShape[ax],
                     "Shape.sliceBackward: dy \(dy.shape) is not input \(inputShape) sliced to \(range) along axis \(axis)")
        let outer = inputShape[..<ax].reduce(1, *), inner = inputShape[(ax + 1)...].reduce(1, *)
        let rowIn = inputShape[ax] * inner, row = range.count * inner, start = range.lowerBound * inner
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        withPointers(dy, mutating: &dx) { gp, dp in
            for o in 0..<outer where row > 0 {
                (dp + o * rowIn + start).update(from: gp + o * row, count: row)
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }

    /// dst [cols, rows] = srcᵀ for src [rows, cols], in 32×32 tiles (both sides stay in cache).
    static func transpose(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int) {
        let t = 32
        var i0 = 0
        while i0 < rows {
            let i1 = min(rows, i0 + t)
            var j0 = 0
            while j0 < cols {
                let j1 = min(cols, j0 + t)
                for i in i0..<i1 {
                    let s = src + i * cols
                    for j in j0..<j1 { dst[j * rows + i] = s[j] }
                }
                j0 = j1
            }
            i0 = i1
        }
    }

    /// y.shape[i] = x.shape[perm[i]] (torch.permute). Walks the output in order with an
    /// odometer over its dimensions; the innermost output dimension is a strided read
    /// (a copy when it is contiguous); swapping the last two axes is a tiled transpose.
    public static func permute(_ x: Tensor, _ perm: [Int]) -> Tensor {
        let r = x.rank
        precondition(perm.count == r && Set(perm) == Set(0..<r),
                     "Shape.permute: \(perm) is not a permutation of the axes of x \(x.shape)")
        var inStrides = [Int](repeating: 1, count: r)
        for i in stride(from: r - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * x.shape[i + 1] }
        let outShape = perm.map { x.shape[$0] }
        let strides = perm.map { inStrides[$0] }   // input stride of each output dimension
        guard x.count > 0 else { return Tensor(shape: outShape, data: []) }
        if r == 0 { return x }
        if perm == Array(0..<r) { return Tensor(shape: outShape, data: x.data) }
        // Swapping the last two axes (the [B, C, HW] ↔ [B, HW, C] layout change): blocked transpose.
        if r >= 2 && perm[r - 1] == r - 2 && perm[r - 2] == r - 1 && Array(perm[..<(r - 2)]) == Array(0..<(r - 2)) {
            let rows = x.shape[r - 2], cols = x.shape[r - 1], mats = x.count / (rows * cols)
            let out = [Float](unsafeUninitializedCapacity: x.count) { ob, n in
                withPointers(x) { xp in
                    for m in 0..<mats {
                        transpose(xp + m * rows * cols, ob.baseAddress! + m * rows * cols, rows, cols)
                    }
                }
                n = x.count
            }
            return Tensor(shape: outShape, data: out)
        }
        var y = [Float](repeating: 0, count: x.count)
        let last = outShape[r - 1], lastStride = strides[r - 1]
        let total = y.count
        withPointers(x, mutating: &y) { xp, yp in
            var idx = [Int](repeating: 0, count: r)
            var src = 0, dst = 0
            while dst < total {
                var s = src
                if lastStride == 1 {
                    (yp + dst).update(from: xp + s, count: last)
                } else {
                    for j in 0..<last { yp[dst + j] = xp[s]; s += lastStride }
                }
                dst += last
                // advance the odometer over the outer output dimensions
                var d = r - 2
                while d >= 0 {
                    idx[d] += 1; src += strides[d]
                    if idx[d] < outShape[d] { break }
                    src -= strides[d] * outShape[d]; idx[d] = 0; d -= 1
                }
            }
        }
        return Tensor(shape: outShape, data: y)
    }

    public static func inversePermutation(_ perm: [Int]) -> [Int] {
        precondition(Set(perm) == Set(0..<perm.count), "Shape.inversePermutation: \(perm) is not a permutation")
        var inv = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inv[p] = i }
        return inv
    }

    private static func normalise(_ op: String, _ axis: Int, _ rank: Int) -> Int {
        let ax = axis < 0 ? rank + axis : axis
        precondition(ax >= 0 && ax < rank, "\(op): axis \(axis) out of range for rank \(rank)")
        return ax
    }
}
