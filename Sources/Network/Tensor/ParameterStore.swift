/// One named parameter inside a `ParameterStore`: a window of the flat buffer.
public struct Parameter: Sendable, Hashable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// All trainable parameters of a model in one contiguous Float buffer, with a gradient
/// buffer of the same layout, so the optimiser and the gradient all-reduce each touch
/// one array. Names follow the PyTorch state dict so checkpoints load by name.
public final class ParameterStore {
    public private(set) var values: [Float] = []
    public var grads: [Float] = []
    public private(set) var parameters: [Parameter] = []
    private var index: [String: Int] = [:]

    public init() {}

    public var count: Int { values.count }

    /// Adds a parameter; its name must be new.
    @discardableResult
    public func register(_ name: String, _ initial: Tensor) -> Parameter {
        precondition(index[name] == nil, "ParameterStore: duplicate parameter name \(name)")
        let p = Parameter(name: name, shape: initial.shape, offset: values.count)
        values.append(contentsOf: initial.data)
        grads.append(contentsOf: repeatElement(0, count: initial.count))
        index[name] = parameters.count
        parameters.append(p)
        return p
    }

    public subscript(name: String) -> Parameter? { index[name].map { parameters[$0] } }

    /// A copy of the parameter's current value.
    public func tensor(_ p: Parameter) -> Tensor {
        Tensor(shape: p.shape, data: Array(values[p.range]))
    }

    public func gradTensor(_ p: Parameter) -> Tensor {
        Tensor(shape: p.shape, data: Array(grads[p.range]))
    }

    /// Overwrites a parameter's value; the shape must match exactly.
    public func set(_ p: Parameter, _ t: Tensor) throws {
        guard t.shape == p.shape else {
            throw NetworkError.shapeMismatch(name: p.name, expected: p.shape, got: t.shape)
        }
        values.replaceSubrange(p.range, with: t.data)
    }

    /// Called after each `accumulateGrad(_:_:)` with the parameter whose gradient grew: the
    /// data-parallel trainer starts a gradient bucket's all-reduce once all of its parameters
    /// are in, while backward goes on with the layers before them.
    public var gradientAccumulated: ((Parameter) -> Void)?

    /// Adds `g` into the parameter's gradient window.
    public func accumulateGrad(_ p: Parameter, _ g: Tensor) {
        precondition(g.count == p.count, "gradient for \(p.name) has \(g.count) values, want \(p.count)")
        grads.withUnsafeMutableBufferPointer { gb in
            g.data.withUnsafeBufferPointer { src in
                let base = gb.baseAddress! + p.offset
                for i in 0..<src.count { base[i] += src[i] }
            }
        }
        gradientAccumulated?(p)
    }

    /// Per-sample gradients (the batch-invariant mode): while `samples` > 0, layers keep each
    /// sample's gradient apart in `sampleGrads` (sample-major, `samples` × `count`) instead
    /// of summing them into `grads`, so a caller can combine them in an order that does not
    /// depend on how a batch was split.
    public private(set) var samples = 0
    public var sampleGrads: [Float] = []

    /// Starts keeping `n` samples' gradients apart (zeroed); 0 returns to summing. The
    /// buffer is kept for the next batch.
    public func keepSamplesApart(_ n: Int) {
        samples = n
        let needed = n * count
        if sampleGrads.count < needed { sampleGrads = [Float](repeating: 0, count: needed) }
        else if needed > 0 { sampleGrads.withUnsafeMutableBufferPointer { $0[0..<needed].update(repeating: 0) } }
    }

    /// Adds sample `s`'s gradient `g` (a tensor of the parameter's shape, or `values` for it).
    public func accumulateGrad(_ p: Parameter, sample s: Int, _ g: UnsafeBufferPointer<Float>) {
        precondition(s >= 0 && s < samples && g.count == p.count, "sample gradient \(s) for \(p.name): \(g.count) values, \(samples) samples")
        sampleGrads.withUnsafeMutableBufferPointer { gb in
            let base = gb.baseAddress! + s * count + p.offset
            for i in 0..<g.count { base[i] += g[i] }
        }
    }

    public func zeroGrads() {
        grads.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Replaces the whole flat buffer (a broadcast from rank 0, a checkpoint).
    public func setFlatValues(_ flat: [Float]) {
        precondition(flat.count == values.count, "flat buffer has \(flat.count) values, store has \(values.count)")
        values = flat
    }

    public func withMutableValues<R>(_ body: (inout [Float]) throws -> R) rethrows -> R {
        try body(&values)
    }
}

public enum NetworkError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(name: String, expected: [Int], got: [Int])
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(name, expected, got):
            return "\(name): expected shape \(expected), got \(got)"
        case let .invalidArgument(msg):
            return msg
        }
    }
}
