import Network

/// What an exported state dict records about its training (strings, as both formats store
/// them), so an import can report a file made for another backbone, SAM or input size.
public struct InteropMetadata: Equatable, Sendable {
    /// "ModelEmb" (g) or "ModelH" (h): the authors' PyTorch module the keys belong to.
    public var module: String
    public var hardnetVariant: String?
    /// What g reads (`generator.input`); absent means the image, as before the key existed.
    public var generatorInput: String?
    public var sam: String?
    public var samSHA256: String?
    /// Side of g's square input image.
    public var inputSize: Int?
    public var lossActivation: String?
    public var step: Int?
    /// For h: the hash of the g it was trained on (`SurrogateCheckpoint.hash`).
    public var generatorHash: String?

    public init(module: String, hardnetVariant: String? = nil, sam: String? = nil, samSHA256: String? = nil,
                inputSize: Int? = nil, lossActivation: String? = nil, step: Int? = nil, generatorHash: String? = nil,
                generatorInput: String? = nil) {
        self.generatorInput = generatorInput
        self.module = module
        self.hardnetVariant = hardnetVariant
        self.sam = sam
        self.samSHA256 = samSHA256
        self.inputSize = inputSize
        self.lossActivation = lossActivation
        self.step = step
        self.generatorHash = generatorHash
    }

    static let formatTag = "autosam-dist state dict 1"

    /// Key/value pairs in a fixed order (the file's metadata).
    public var pairs: [(key: String, value: String)] {
        var out: [(String, String)] = [("format", Self.formatTag), ("module", module)]
        if let v = hardnetVariant { out.append(("hardnet_variant", v)) }
        if let v = generatorInput { out.append(("generator_input", v)) }
        if let v = sam { out.append(("sam", v)) }
        if let v = samSHA256 { out.append(("sam_sha256", v)) }
        if let v = inputSize { out.append(("input_size", String(v))) }
        if let v = lossActivation { out.append(("loss_activation", v)) }
        if let v = step { out.append(("step", String(v))) }
        if let v = generatorHash { out.append(("generator_hash", v)) }
        return out.map { (key: $0.0, value: $0.1) }
    }

    /// The metadata of a file this program wrote; nil for any other state dict (e.g. torch.save).
    public init?(_ m: [String: String]) {
        guard m["format"] == Self.formatTag, let module = m["module"] else { return nil }
        self.init(module: module, hardnetVariant: m["hardnet_variant"], sam: m["sam"], samSHA256: m["sam_sha256"],
                  inputSize: m["input_size"].flatMap { Int($0) }, lossActivation: m["loss_activation"],
                  step: m["step"].flatMap { Int($0) }, generatorHash: m["generator_hash"], generatorInput: m["generator_input"])
    }
}
