/// Where a model's frozen weights come from: a checkpoint file or tensors in memory.
public protocol TensorSource {
    var tensorNames: [String] { get }
    func shapeOf(_ name: String) -> [Int]?
    func load(_ name: String) throws -> Tensor
}

public struct InMemoryTensors: TensorSource {
    public var tensors: [String: Tensor]
    public init(_ tensors: [String: Tensor]) { self.tensors = tensors }
    public var tensorNames: [String] { Array(tensors.keys) }
    public func shapeOf(_ name: String) -> [Int]? { tensors[name]?.shape }
    public func load(_ name: String) throws -> Tensor { tensors[name]! }
}

extension TorchCheckpoint: TensorSource {
    public var tensorNames: [String] { keys }
    public func shapeOf(_ name: String) -> [Int]? { shape(name) }
    public func load(_ name: String) throws -> Tensor { try tensor(name) }
}

/// Hands named tensors to a model's layers while it is built. Tensors are read from the
/// source one at a time (a large checkpoint is never held twice). Every take is
/// shape-checked and recorded, so `finish()` can list every missing, unexpected or
/// mis-shaped key in one error.
public final class WeightBag {
    private let source: TensorSource
    private let origin: String
    private let names: Set<String>
    private var used: Set<String> = []
    private var problems: [String] = []

    /// `only` restricts the names considered (e.g. one sub-model's prefix).
    public init(_ source: TensorSource, origin: String, only: ((String) -> Bool)? = nil) {
        self.source = source
        self.origin = origin
        names = Set(source.tensorNames.filter { only?($0) ?? true })
    }

    public convenience init(_ tensors: [String: Tensor], origin: String = "weights") {
        self.init(InMemoryTensors(tensors), origin: origin)
    }

    /// The tensor named `name`. A wrong shape or a missing name is recorded and zeros are
    /// returned, so that building continues and all problems are reported together.
    /// Shapes that differ only by size-1 dimensions are accepted (PyTorch stores some
    /// embeddings as [1, C]).
    public func take(_ name: String, _ shape: [Int]) -> Tensor {
        guard names.contains(name), let fileShape = source.shapeOf(name) else {
            problems.append("missing \(name) \(shape)")
            return Tensor(zeros: shape)
        }
        used.insert(name)
        guard fileShape == shape || fileShape.filter({ $0 != 1 }) == shape.filter({ $0 != 1 }) else {
            problems.append("wrong shape for \(name): file has \(fileShape), model needs \(shape)")
            return Tensor(zeros: shape)
        }
        do {
            return try source.load(name).reshaped(shape)
        } catch {
            problems.append("cannot read \(name): \(error)")
            return Tensor(zeros: shape)
        }
    }

    /// Marks keys the model deliberately does not use (BatchNorm's num_batches_tracked).
    public func ignore(where predicate: (String) -> Bool) {
        for k in names where predicate(k) { used.insert(k) }
    }

    /// Throws when anything was missing, mis-shaped, unreadable, or left unused.
    public func finish() throws {
        let unused = names.subtracting(used).sorted()
        let all = problems + unused.map { "unexpected \($0) \(source.shapeOf($0) ?? [])" }
        guard all.isEmpty else {
            throw NetworkError.invalidArgument("\(origin): \(all.count) state-dict problem(s):\n  " + all.joined(separator: "\n  "))
        }
    }
}
