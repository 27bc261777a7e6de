import Network

/// Fills g from a PyTorch `ModelEmb` state dict (`.pth` or `.safetensors`, by content): by
/// name, every tensor shape-checked, nothing assigned unless the file matches (missing,
/// unexpected and mis-shaped keys listed with the file's path). Metadata this program wrote
/// is compared with what g is being used for: another HarDNet variant or module is an error,
/// another SAM, input size or loss a warning.
public enum GeneratorImport {
    /// What the caller uses g for; nil fields are not compared.
    public struct Expectation {
        public var variant: GeneratorBackbone
        public var sam: SAMKind?
        public var samSHA256: String?
        public var lossActivation: LossActivation?
        /// g's input side here (`TrainConfig.generatorSide`).
        public var inputSize: Int?
        public init(variant: GeneratorBackbone, sam: SAMKind? = nil, samSHA256: String? = nil, lossActivation: LossActivation? = nil,
                    inputSize: Int? = nil) {
            self.variant = variant
            self.sam = sam
            self.samSHA256 = samSHA256
            self.lossActivation = lossActivation
            self.inputSize = inputSize
        }
    }

    public struct Report {
        public let tensors: Int
        /// nil for a state dict not written by this program (e.g. `torch.save`).
        public let metadata: InteropMetadata?
        public let warnings: [String]
    }

    @discardableResult
    public static func load(_ path: String, into g: PromptGenerator, expecting e: Expectation) throws -> Report {
        let source = try StateDictFiles.open(path)
        let meta = InteropMetadata(source.metadata)
        let warnings = try check(meta, path: path, expecting: e)
        do {
            let n = try g.load(source, layout: .modelEmb)
            return Report(tensors: n, metadata: meta, warnings: warnings)
        } catch let m as StateDictMismatchError {
            // Name the variant the file does fit, when it fits one.
            if let other = GeneratorStateDict.detectVariant(source, context: g.context) {
                if other.input != g.input {
                    throw FileError(path: path, problem: "holds a g that reads the \(other.input.rawValue), not the \(g.input.rawValue) (generator.input) (\(m))")
                }
                if other.backbone != e.variant {
                    throw FileError(path: path, problem: "holds a \(other.backbone.name) g, not a \(e.variant.name) one (\(m))")
                }
            }
            throw m
        }
    }

    static func check(_ meta: InteropMetadata?, path: String, expecting e: Expectation) throws -> [String] {
        guard let meta else { return [] }
        guard meta.module == "ModelEmb" else {
            throw FileError(path: path, problem: "holds a \(meta.module) state dict, not g (ModelEmb)")
        }
        if let v = meta.hardnetVariant, GeneratorBackbone.named(v) != e.variant {
            throw FileError(path: path, problem: "was exported from a \(v) g (metadata hardnet_variant), but g here is \(e.variant.name) (generator.backbone)")
        }
        var w: [String] = []
        if let s = meta.sam, let want = e.sam, s != want.rawValue {
            w.append("\(path): g was trained with SAM \(s), used here with \(want.rawValue)")
        }
        if let size = meta.inputSize, let want = e.inputSize, size != want {
            w.append("\(path): g was trained on \(size)² inputs, used here on \(want)² (generator.input_size)")
        }
        if let s = meta.samSHA256, let want = e.samSHA256, s != want {
            w.append("\(path): g was trained against other SAM weights (SHA-256 \(s.prefix(16))…, here \(want.prefix(16))…)")
        }
        if let l = meta.lossActivation, let want = e.lossActivation, l != want.rawValue {
            w.append("\(path): g was trained with loss.activation \(l), used here with \(want.rawValue)")
        }
        return w
    }
}
