import Datasets
import Foundation
import Network
import Training

/// g's input and the low-res target for one sample, without SAM: the same decoding,
/// augmentation and preprocessing as `SamplePipeline.prepare`, minus the image encoder
/// (h reads g's output only, so the expensive encoder never runs for h).
public enum GeneratorInput {
    public struct Prepared {
        public var image: [Float]          // [3, S, S] SAM-preprocessed (S = the SAM kind's input side)
        public var target: [Float]         // [256, 256] in {0, 1}: the frame of h's (and SAM's low-res) logits
        public var mask: Mask              // ground truth at the original resolution
        public var extent: ResizedExtent
        public var name: String
    }

    /// `lowRes` is the side of the logits the target must match (4 × g's 64 = 256).
    public static func prepare(_ sample: DatasetSample, kind: SAMKind, lowRes: Int,
                               augmentation: AugmentationParams = .identity) throws -> Prepared {
        var image = try ImageDecoder.read(sample.imagePath, channels: 3)
        var mask = try MaskLoader.binary(sample.maskPath, rule: sample.maskRule, imageWidth: image.width, imageHeight: image.height)
        let original = mask
        if !augmentation.isIdentity {
            image = Augmentation.apply(augmentation, to: image)
            mask = Augmentation.apply(augmentation, to: mask)
        }
        let norm: InputNormalization = kind == .liteMedSAM ? .minMax : .samPixelMeanStd
        let pre = Preprocessing.image(image, side: kind.imageSize, normalization: norm)
        let target = Preprocessing.mask(mask, side: lowRes).pixels.map { Float($0) }
        return Prepared(image: pre.data, target: target, mask: original, extent: pre.extent, name: sample.name)
    }

    /// Stacks images into g's input [b, 3, G, G], G = `config.generatorSide` (g's trained
    /// side), resized as `SamplePipeline.batch` does.
    public static func batch(_ items: [Prepared], config: TrainConfig) -> Tensor {
        let s = config.model.sam.imageSize
        return AutoSAM.generatorInput(Tensor(shape: [items.count, 3, s, s], data: items.flatMap(\.image)), side: config.generatorSide)
    }
}

/// h(g(I)): a frozen g and the surrogate decoder h, with the config g was trained with.
public struct SurrogateModel {
    public let config: TrainConfig
    public let generator: PromptGenerator
    public let decoder: SurrogateDecoder

    public init(config: TrainConfig, generator: PromptGenerator, decoder: SurrogateDecoder) {
        self.config = config
        self.generator = generator
        self.decoder = decoder
    }

    /// Side of h's logits (and of the training targets): 4 × g's output side.
    public var lowRes: Int { 4 * generator.outputSize }

    /// The h checkpoint to use with the AutoSAM checkpoint `checkpoint`: the one given, else
    /// `h.ckpt` beside it (where train-h writes by default) if present.
    public static func path(given: String?, besideCheckpoint checkpoint: String) -> String? {
        if let given { return given }
        let sibling = ((checkpoint as NSString).deletingLastPathComponent as NSString).appendingPathComponent("h.ckpt")
        return FileManager.default.fileExists(atPath: sibling) ? sibling : nil
    }

    /// Rebuilds g and h from an h checkpoint. `generatorCheckpoint` overrides the g checkpoint
    /// path stored in it (a moved file); the g found there must be the one h was trained on.
    /// g and h run on `context`.
    public static func load(_ path: String, generatorCheckpoint: String? = nil, context: ExecutionContext) throws -> SurrogateModel {
        let ck = try TrainingCheckpoint.read(path)
        guard ck.header.backbone == SurrogateCheckpoint.backbone, let ref = ck.header.generator else {
            throw FileError(path: path, problem: "not a surrogate decoder h checkpoint (it holds a \(ck.header.backbone) generator; write one with train-h)")
        }
        let h = try SurrogateCheckpoint.decoder(ck, path: path, context: context)
        let gPath = generatorCheckpoint ?? ref.path
        guard FileManager.default.fileExists(atPath: gPath) else {
            throw FileError(path: gPath, problem: "g checkpoint named by \(path) not found (pass the g checkpoint explicitly)")
        }
        let (cfg, g, _) = try TrainedModel.loadGenerator(gPath, context: context)
        guard SurrogateCheckpoint.hash(g) == ref.hash else {
            throw FileError(path: gPath, problem: "this g is not the one the h in \(path) was trained on (weights hash differs)")
        }
        return SurrogateModel(config: cfg, generator: g, decoder: h)
    }

    /// h from a `ModelH` state dict (`export` of a train-h checkpoint, or PyTorch's), over `generator`.
    public static func load(stateDict path: String, generator: PromptGenerator, config: TrainConfig,
                            context: ExecutionContext) throws -> SurrogateModel {
        var rng = SeededRNG(seed: 0)
        let h = SurrogateDecoder(context: context, rng: &rng)
        try SurrogateImport.load(path, into: h)
        return SurrogateModel(config: config, generator: generator, decoder: h)
    }

    /// Mask logits [b, 1, 256, 256] = h(g(images)), g in evaluation mode.
    public func predict(images: Tensor) throws -> Tensor {
        try decoder.forward(generator.infer(images)).0
    }

    /// g's output [b, 256, 64, 64] in evaluation mode.
    public func embed(images: Tensor) throws -> Tensor {
        try generator.infer(images)
    }
}

/// Per-image Dice, IoU and MAE of h(g(I)) at the original label resolution, exactly as
/// `Evaluator` scores AutoSAM: the config's activation (sigmoid or per-image min-max) in the
/// 256² frame, mapped back to the original size, threshold 0.5.
public struct SurrogateEvaluator {
    public let model: SurrogateModel
    public var batchSize: Int

    public init(model: SurrogateModel, batchSize: Int = 8) {
        self.model = model
        self.batchSize = max(1, batchSize)
    }

    /// Scores every sample; `onMask` receives each predicted mask at original resolution.
    public func evaluate(_ samples: [DatasetSample], onMask: ((String, Mask) throws -> Void)? = nil) throws -> [Evaluator.ImageScore] {
        var scores: [Evaluator.ImageScore] = []
        var i = 0
        while i < samples.count {
            let chunk = samples[i..<min(i + batchSize, samples.count)]
            let prepared = try chunk.map { try GeneratorInput.prepare($0, kind: model.config.model.sam, lowRes: model.lowRes) }
            let logits = try model.predict(images: GeneratorInput.batch(prepared, config: model.config))
            let grid = logits.shape[2], per = grid * grid
            for (j, p) in prepared.enumerated() {
                let prob = Evaluator.probabilities(logits.data[(j * per)..<((j + 1) * per)], activation: model.config.loss.activation)
                let full = Preprocessing.toOriginal(prob, grid: grid, extent: p.extent)
                let pred = Mask(width: p.mask.width, height: p.mask.height, pixels: full.map { $0 > 0.5 ? 1 : 0 })
                scores.append(Evaluator.ImageScore(name: p.name, dice: Metrics.dice(pred, p.mask), iou: Metrics.iou(pred, p.mask),
                                                   mae: Metrics.meanAbsoluteError(full, p.mask.pixels)))
                try onMask?(p.name, pred)
            }
            i += batchSize
        }
        return scores
    }
}
