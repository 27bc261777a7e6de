/// One tensor to write into a state-dict file: a name, a shape and contiguous row-major
/// values (float32, or int64 for counters such as BatchNorm's `num_batches_tracked`).
public struct StateDictEntry: Equatable, Sendable {
    public enum Values: Equatable, Sendable {
        case float32([Float])
        case int64([Int64])
    }

    public let name: String
    public let shape: [Int]
    public let values: Values

    public init(name: String, shape: [Int], values: Values) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    public var dtype: TorchDType {
        if case .int64 = values { return .int64 }
        return .float32
    }

    public var count: Int {
        switch values {
        case let .float32(v): return v.count
        case let .int64(v): return v.count
        }
    }

    /// The values as little-endian bytes.
    var littleEndianBytes: [UInt8] {
        #if _endian(little)
        switch values {
        case let .float32(v): return v.withUnsafeBytes { Array($0) }
        case let .int64(v): return v.withUnsafeBytes { Array($0) }
        }
        #else
        var out: [UInt8] = []
        out.reserveCapacity(count * dtype.byteSize)
        switch values {
        case let .float32(v): for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out += $0 } }
        case let .int64(v): for x in v { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
        }
        return out
        #endif
    }

    /// Row-major strides of `shape`.
    var contiguousStrides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { s[d] = s[d + 1] * shape[d + 1] }
        return s
    }

    func validate() throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw CheckpointProblem("\(name): \(count) values do not fill shape \(shape)")
        }
    }
}
