import Foundation

/// Opens a state-dict file by its content: a zip archive is a `.pth`, anything else is read
/// as `.safetensors`. Errors name the file.
public enum StateDictFiles {
    public static func open(_ path: String) throws -> any StateDictSource {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw TorchCheckpointError(path: path, problem: "cannot open the file (missing or unreadable)")
        }
        let head = (try? h.read(upToCount: 4)) ?? Data()
        try? h.close()
        if head.starts(with: Array("ASCK".utf8)) {
            throw TorchCheckpointError(path: path, problem: "is an autosam-dist checkpoint, not a state dict (convert it with `autosam-dist export`)")
        }
        if head.starts(with: [0x50, 0x4b]) || path.hasSuffix(".pth") || path.hasSuffix(".pt") {
            return try TorchCheckpoint(path: path)
        }
        return try SafetensorsFile(path: path)
    }
}
