/// The element types of the safetensors format, by its dtype strings.
enum SafetensorsFormat {
    static let dtypes: [String: TorchDType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64,
        "I64": .int64, "I32": .int32, "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
    ]

    static func name(_ d: TorchDType) -> String {
        dtypes.first { $0.value == d }!.key
    }

    /// Headers past this are refused as damage rather than read (the reference reader's limit).
    static let maxHeader = 100_000_000
}
