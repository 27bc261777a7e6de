/// Non-trainable named Float buffers (BatchNorm running statistics) by state-dict name,
/// kept beside a model's `ParameterStore` so checkpoints save and restore them. The
/// optimiser never sees them; BatchNorm's train-mode forward updates them in place.
public final class BufferStore {
    public private(set) var names: [String] = []
    public private(set) var values: [[Float]] = []
    private var index: [String: Int] = [:]
    /// When set (data-parallel training), train-mode BatchNorm of this model forms its
    /// statistics over all replicas through it (SyncBatchNorm); nil keeps them local.
    public var statisticsReducer: BatchStatisticsReducer?
    /// How far one train-mode batch moves the running statistics (PyTorch's 0.1);
    /// `PromptGenerator.recomputeRunningStats` sets 1/k for a plain average.
    public var batchNormMomentum: Float = 0.1

    public init() {}

    /// Adds a buffer; its name must be new. Returns its slot for fast access.
    @discardableResult
    public func register(_ name: String, _ initial: [Float]) -> Int {
        precondition(index[name] == nil, "BufferStore: duplicate buffer name \(name)")
        index[name] = values.count
        names.append(name)
        values.append(initial)
        return values.count - 1
    }

    public subscript(name: String) -> [Float]? { index[name].map { values[$0] } }

    /// Every buffer with its name, in registration (state-dict) order.
    public var named: [(name: String, values: [Float])] { Array(zip(names, values)) }

    /// Overwrites a buffer; the length must match.
    public func set(_ name: String, _ v: [Float]) throws {
        guard let i = index[name] else { throw NetworkError.invalidArgument("no buffer named \(name)") }
        guard v.count == values[i].count else {
            throw NetworkError.shapeMismatch(name: name, expected: [values[i].count], got: [v.count])
        }
        values[i] = v
    }

    /// Every buffer, in registration order, as one flat array (checkpoints, broadcasts).
    public var flatValues: [Float] { values.flatMap { $0 } }

    /// Replaces every buffer from one flat array in registration order.
    public func setFlatValues(_ flat: [Float]) throws {
        let total = values.reduce(0) { $0 + $1.count }
        guard flat.count == total else {
            throw NetworkError.shapeMismatch(name: "buffers", expected: [total], got: [flat.count])
        }
        var off = 0
        for i in values.indices {
            values[i] = Array(flat[off..<(off + values[i].count)])
            off += values[i].count
        }
    }

    func slot(_ i: Int) -> [Float] { values[i] }

    func withSlot<R>(_ i: Int, _ body: (inout [Float]) -> R) -> R { body(&values[i]) }
}
