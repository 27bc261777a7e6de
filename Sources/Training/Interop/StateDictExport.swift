import Foundation
import Network

/// `autosam-dist export`: a training checkpoint's g as a `ModelEmb` state dict, or a train-h
/// checkpoint's h as a `ModelH` state dict, in `.pth` or `.safetensors`, with the metadata
/// of what it was trained with. Written atomically.
public enum StateDictExport {
    public struct Summary {
        public let metadata: InteropMetadata
        public let tensors: Int
        public let bytes: Int
    }

    @discardableResult
    public static func export(checkpoint path: String, format: StateDictFormat, to output: String,
                              context: ExecutionContext) throws -> Summary {
        let ck = try TrainingCheckpoint.read(path)
        let (entries, metadata) = ck.header.backbone == SurrogateCheckpoint.backbone
            ? try surrogate(ck, path: path, context: context)
            : try generator(path, context: context)
        let bytes: [UInt8]
        do { bytes = try format.encode(entries, metadata: metadata) } catch let e as TorchCheckpointError {
            throw FileError(path: output, problem: e.problem)
        }
        try AtomicFile.write(Data(bytes), to: output)
        return Summary(metadata: metadata, tensors: entries.count, bytes: bytes.count)
    }

    /// g with its running statistics; `num_batches_tracked` = steps × train.accumulate (the
    /// train-mode forward passes of one replica).
    static func generator(_ path: String, context: ExecutionContext) throws -> ([StateDictEntry], InteropMetadata) {
        let (cfg, g, ck) = try TrainedModel.loadGenerator(path, context: context)
        let entries = GeneratorStateDict.entries(g, batchesTracked: ck.header.step * cfg.train.accumulate)
        return (entries, metadata(module: "ModelEmb", cfg, samSHA256: ck.header.identity?.samSHA256, step: ck.header.step))
    }

    static func surrogate(_ ck: TrainingCheckpoint, path: String, context: ExecutionContext) throws -> ([StateDictEntry], InteropMetadata) {
        let h = try SurrogateCheckpoint.decoder(ck, path: path, context: context)
        let entries = h.store.parameters.map { StateDictEntry(name: $0.name, shape: $0.shape, values: .float32(h.store.tensor($0).data)) }
        let cfg = try TrainConfig.parse(ck.header.configYAML, path: path + " (stored config)")
        // h's checkpoint names its g; g's checkpoint knows the SAM weights' hash.
        let samSHA = ck.header.identity?.samSHA256
            ?? ck.header.generator.flatMap { try? TrainingCheckpoint.read($0.path).header.identity?.samSHA256 }
        var m = metadata(module: "ModelH", cfg, samSHA256: samSHA, step: ck.header.step)
        m.generatorHash = ck.header.generator?.hash
        return (entries, m)
    }

    static func metadata(module: String, _ cfg: TrainConfig, samSHA256: String?, step: Int) -> InteropMetadata {
        InteropMetadata(module: module, hardnetVariant: cfg.generator.backbone, sam: cfg.model.sam.rawValue,
                        samSHA256: samSHA256, inputSize: cfg.generatorSide,
                        lossActivation: cfg.loss.activation.rawValue, step: step,
                        generatorInput: cfg.generator.input == .image ? nil : cfg.generator.input.rawValue)
    }
}
