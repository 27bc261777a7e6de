import Datasets
import Foundation
import Network

/// An AutoSAM whose g comes from a `ModelEmb` state dict (`eval --g`). The config (SAM,
/// loss, cache) is the training checkpoint's when one is given, else built from the file's
/// metadata (defaults: LiteMedSAM, sigmoid) with the HarDNet variant read from the metadata
/// or recognised from the tensor shapes.
public enum ImportedGenerator {
    public struct Loaded {
        public let config: TrainConfig
        public let model: AutoSAM
        public let report: GeneratorImport.Report
    }

    public static func load(_ gFile: String, checkpoint: String? = nil, samCheckpoint: String? = nil,
                            context: ExecutionContext) throws -> Loaded {
        var cfg: TrainConfig
        if let checkpoint {
            let ck = try TrainingCheckpoint.read(checkpoint)
            cfg = try TrainConfig.parse(ck.header.configYAML, path: checkpoint + " (stored config)")
        } else {
            cfg = try config(from: StateDictFiles.open(gFile), path: gFile, context: context)
        }
        if let s = samCheckpoint { cfg.model.checkpoint = s }
        guard FileManager.default.fileExists(atPath: cfg.model.checkpoint) else {
            throw FileError(path: cfg.model.checkpoint, problem: "SAM checkpoint not found (pass --sam-checkpoint)")
        }
        var rng = SeededRNG(seed: 0)
        let g: PromptGenerator
        do { g = try cfg.makeGenerator(context: context, rng: &rng) } catch {
            throw FileError(path: gFile, problem: "unknown backbone \(cfg.generator.backbone)")
        }
        let expect = GeneratorImport.Expectation(variant: g.backboneKind, sam: cfg.model.sam,
                                                 samSHA256: try SHA256.file(cfg.model.checkpoint), lossActivation: cfg.loss.activation,
                                                 inputSize: cfg.generatorSide)
        let report = try GeneratorImport.load(gFile, into: g, expecting: expect)
        let sam = try SAM.load(cfg.model.sam, checkpoint: cfg.model.checkpoint, context: context)
        return Loaded(config: cfg, model: AutoSAM(sam: sam, generator: g, lossActivation: cfg.loss.activation, generatorSide: cfg.generatorSide), report: report)
    }

    static func config(from source: any StateDictSource, path: String, context: ExecutionContext) throws -> TrainConfig {
        var cfg = TrainConfig()
        let meta = InteropMetadata(source.metadata)
        if let s = meta?.sam {
            guard let kind = SAMKind(rawValue: s) else { throw FileError(path: path, problem: "metadata names an unknown SAM \(s)") }
            cfg.model.sam = kind
            if kind != .liteMedSAM { cfg.model.checkpoint = "" } // ViT weights have no default path
        }
        if let l = meta?.lossActivation, let a = LossActivation(rawValue: l) { cfg.loss.activation = a }
        // g runs on the input side it was trained on.
        if let n = meta?.inputSize, n != cfg.generatorSide { cfg.generator.inputSize = n }
        if let i = meta?.generatorInput, let input = GeneratorInput(rawValue: i) { cfg.generator.input = input }
        if let v = meta?.hardnetVariant {
            cfg.generator.backbone = v
        } else if let (v, input) = GeneratorStateDict.detectVariant(source, context: context) {
            cfg.generator.backbone = v.name
            cfg.generator.input = input
        } // else: the import below lists what does not match the default backbone
        return cfg
    }
}
