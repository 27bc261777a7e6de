/// A storage named by a checkpoint's persistent id `('storage', type, key, location, numel)`.
struct TorchStorageRef {
    let key: String
    let dtype: TorchDType
    let numel: Int
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage.
struct TorchTensorRef {
    let storage: TorchStorageRef
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

/// Lists and dicts are reference types so that memoized copies see later APPEND/SETITEM.
final class PickleList {
    var items: [PickleValue] = []
}

final class PickleDict {
    /// What BUILD set on it (a state dict's `_metadata` attributes).
    var state: PickleValue?
    private(set) var items: [(key: PickleValue, value: PickleValue)] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case let .string(s) = key {
            if let i = stringIndex[s] { items[i].value = value; return }
            stringIndex[s] = items.count
        }
        items.append((key, value))
    }

    subscript(key: String) -> PickleValue? { stringIndex[key].map { items[$0].value } }
}

/// The values the state-dict unpickler builds.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(m, n): return "\(m).\(n)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}
