/// A dense, contiguous Float32 tensor in row-major order (NCHW for images).
/// Value semantics through the backing array; ops are free functions over these.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, repeating: 0)
    }

    public init(shape: [Int], repeating value: Float) {
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// Standard normal values from a seeded generator, scaled.
    public static func randn(_ shape: [Int], rng: inout SeededRNG, scale: Float = 1) -> Tensor {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = rng.nextNormal() * scale }
        return Tensor(shape: shape, data: d)
    }

    /// Uniform values in [lo, hi) from a seeded generator.
    public static func uniform(_ shape: [Int], rng: inout SeededRNG, lo: Float = -1, hi: Float = 1) -> Tensor {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = lo + (hi - lo) * rng.nextUniform() }
        return Tensor(shape: shape, data: d)
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// Size of dimension `i`; negative indices count from the end.
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }

    /// Samples [lo, hi) of the first dimension, as a tensor of their own.
    public func samples(_ r: Range<Int>) -> Tensor {
        let per = shape[0] == 0 ? 0 : data.count / shape[0]
        return Tensor(shape: [r.count] + shape.dropFirst(), data: Array(data[(r.lowerBound * per)..<(r.upperBound * per)]))
    }

    /// Sample `i` of the first dimension (batch 1).
    public func sample(_ i: Int) -> Tensor { samples(i..<(i + 1)) }

    /// Tensors of equal trailing shape stacked along the first dimension.
    public static func concatenatingSamples(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "concatenatingSamples: no tensors")
        let n = parts.reduce(0) { $0 + $1.shape[0] }
        var d: [Float] = []
        d.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { d += p.data }
        return Tensor(shape: [n] + parts[0].shape.dropFirst(), data: d)
    }

    /// Same values, new shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let k = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != k }.map(\.element).reduce(1, *)
            s[k] = data.count / max(known, 1)
        }
        return Tensor(shape: s, data: data)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(6).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(data.count > 6 ? ", …" : "")])"
    }
}
