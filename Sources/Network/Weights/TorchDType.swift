/// Element types of PyTorch storages, named by their pickled storage class.
public enum TorchDType: String, Sendable, CaseIterable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    /// The dtype of a `torch.<Name>Storage` class, or nil for an unknown class.
    init?(storageClass: String) {
        switch storageClass {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: return true
        default: return false
        }
    }
}
