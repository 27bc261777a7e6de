import Network

/// The two file formats `export` writes and imports read.
public enum StateDictFormat: String, CaseIterable, Sendable {
    case pth, safetensors

    public func encode(_ entries: [StateDictEntry], metadata: InteropMetadata) throws -> [UInt8] {
        switch self {
        case .pth: return try TorchStateDictWriter.encode(entries, metadata: metadata.pairs)
        case .safetensors: return try SafetensorsWriter.encode(entries, metadata: metadata.pairs)
        }
    }
}
