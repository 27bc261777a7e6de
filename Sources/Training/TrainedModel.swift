import Foundation
import Network

/// An AutoSAM rebuilt from a training checkpoint: the config it was trained with, the
/// frozen SAM it names, and g with its parameters and running statistics.
public struct TrainedModel {
    public let config: TrainConfig
    public let model: AutoSAM
    public let checkpoint: TrainingCheckpoint

    /// `samCheckpoint` overrides the SAM weights path stored in the config (a moved file).
    /// SAM and g run on `context`.
    public static func load(_ path: String, samCheckpoint: String? = nil, context: ExecutionContext) throws -> TrainedModel {
        let (config, g, ck) = try loadGenerator(path, context: context)
        var cfg = config
        if let s = samCheckpoint { cfg.model.checkpoint = s }
        guard FileManager.default.fileExists(atPath: cfg.model.checkpoint) else {
            throw FileError(path: cfg.model.checkpoint, problem: "SAM checkpoint named by \(path) not found (pass --sam-checkpoint)")
        }
        let sam = try SAM.load(cfg.model.sam, checkpoint: cfg.model.checkpoint, context: context)
        return TrainedModel(config: cfg, model: AutoSAM(sam: sam, generator: g, lossActivation: cfg.loss.activation, generatorSide: cfg.generatorSide), checkpoint: ck)
    }

    /// g alone (with its running statistics) and the config it was trained with, without
    /// loading SAM: what `train-h` needs, since h reads g's output only.
    public static func loadGenerator(_ path: String, context: ExecutionContext) throws
        -> (config: TrainConfig, generator: PromptGenerator, checkpoint: TrainingCheckpoint) {
        let ck = try TrainingCheckpoint.read(path)
        if ck.header.backbone == SurrogateCheckpoint.backbone {
            throw FileError(path: path, problem: "this is a surrogate decoder h checkpoint (from train-h), not an AutoSAM training checkpoint")
        }
        let cfg = try TrainConfig.parse(ck.header.configYAML, path: path + " (stored config)")
        guard GeneratorBackbone.named(ck.header.backbone) != nil else {
            throw FileError(path: path, problem: "unknown generator backbone \(ck.header.backbone)")
        }
        var rng = SeededRNG(seed: 0)
        let g = try cfg.makeGenerator(context: context, rng: &rng)
        guard ck.header.parameters.map(\.name) == g.store.parameters.map(\.name),
              ck.header.parameters.map(\.shape) == g.store.parameters.map(\.shape) else {
            throw FileError(path: path, problem: "parameters do not match a \(ck.header.backbone) generator")
        }
        g.store.setFlatValues(ck.parameters)
        guard ck.header.buffers.map(\.name) == g.buffers.names else {
            throw FileError(path: path, problem: "BatchNorm statistics do not match a \(ck.header.backbone) generator")
        }
        try g.buffers.setFlatValues(ck.buffers)
        return (cfg, g, ck)
    }
}
