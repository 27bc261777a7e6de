import Datasets
import Foundation
import Network

/// Per-image Dice and IoU of AutoSAM's masks at the original label resolution, threshold 0.5.
public struct Evaluator {
    public let model: AutoSAM
    public let pipeline: SamplePipeline
    public var batchSize: Int

    public struct ImageScore: Sendable {
        public var name: String
        public var dice: Double
        public var iou: Double
        public var mae: Double
        public init(name: String, dice: Double, iou: Double, mae: Double) {
            self.name = name; self.dice = dice; self.iou = iou; self.mae = mae
        }
    }

    public init(model: AutoSAM, pipeline: SamplePipeline, batchSize: Int = 10) {
        self.model = model
        self.pipeline = pipeline
        self.batchSize = batchSize
    }

    /// Probabilities in the low-res frame: sigmoid, or per-image min-max for the authors' loss.
    public static func probabilities(_ logits: ArraySlice<Float>, activation: LossActivation) -> [Float] {
        switch activation {
        case .sigmoid:
            return logits.map { 1 / (1 + expf(-$0)) }
        case .minMax:
            let lo = logits.min() ?? 0, hi = logits.max() ?? 0
            return logits.map { ($0 - lo) / (hi - lo + 1e-6) }
        }
    }

    /// Scores every sample; `onMask` receives each predicted mask at original resolution.
    public func evaluate(_ samples: [DatasetSample], onMask: ((String, Mask) throws -> Void)? = nil) throws -> [ImageScore] {
        var scores: [ImageScore] = []
        var i = 0
        while i < samples.count {
            let chunk = Array(samples[i..<min(i + batchSize, samples.count)])
            let prepared = try chunk.map { try pipeline.prepare($0, augmentation: .identity) }
            let b = pipeline.batch(prepared)
            let logits = try model.predict(images: b.images, embeddings: b.embeddings)
            let grid = logits.shape[2], per = grid * grid
            for (j, p) in prepared.enumerated() {
                let prob = Self.probabilities(logits.data[(j * per)..<((j + 1) * per)], activation: model.lossActivation)
                let full = Preprocessing.toOriginal(prob, grid: grid, extent: p.extent)
                let pred = Mask(width: p.mask.width, height: p.mask.height, pixels: full.map { $0 > 0.5 ? 1 : 0 })
                scores.append(ImageScore(name: p.name, dice: Metrics.dice(pred, p.mask), iou: Metrics.iou(pred, p.mask),
                                         mae: Metrics.meanAbsoluteError(full, p.mask.pixels)))
                try onMask?(p.name, pred)
            }
            i += batchSize
        }
        return scores
    }
}

#if canImport(Glibc)
import Glibc
#endif
