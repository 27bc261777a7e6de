import Network

/// Fills h from a PyTorch `ModelH` state dict (`.pth` or `.safetensors`), strictly by name.
public enum SurrogateImport {
    @discardableResult
    public static func load(_ path: String, into h: SurrogateDecoder) throws -> InteropMetadata? {
        let source = try StateDictFiles.open(path)
        let meta = InteropMetadata(source.metadata)
        if let m = meta, m.module != "ModelH" {
            throw FileError(path: path, problem: "holds a \(m.module) state dict, not h (ModelH)")
        }
        try source.load(into: h.store)
        return meta
    }
}
