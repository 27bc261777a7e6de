import Datasets
import Foundation
import Network
import Training

/// Self-prompted AutoSAM (SelfPrompt) scored image by image like the Evaluator scores g alone:
/// the same cached embeddings, batches and postprocessing (crop, resize to the label's size,
/// threshold 0.5), so the two differ only where the box pass was used.
struct SelfPromptEvaluator {
    let model: AutoSAM
    let pipeline: SamplePipeline
    let selfPrompt: SelfPrompt
    var batchSize = 10

    struct Score {
        var dice: Double
        var iou: Double
        var outcome: SelfPrompt.Outcome
    }

    func evaluate(_ samples: [DatasetSample]) throws -> [Score] {
        var scores: [Score] = []
        var i = 0
        while i < samples.count {
            let prepared = try samples[i..<min(i + batchSize, samples.count)].map { try pipeline.prepare($0, augmentation: .identity) }
            let b = pipeline.batch(prepared)
            let outcomes = try selfPrompt.run(model: model, images: b.images, embeddings: b.embeddings, extents: prepared.map(\.extent))
            for (p, o) in zip(prepared, outcomes) {
                let full = Preprocessing.toOriginal(o.probabilities(activation: model.lossActivation), grid: o.logits.shape[2], extent: p.extent)
                let pred = Mask(width: p.mask.width, height: p.mask.height, pixels: Metrics.binarize(full))
                scores.append(Score(dice: Metrics.dice(pred, p.mask), iou: Metrics.iou(pred, p.mask), outcome: o))
            }
            i += batchSize
        }
        return scores
    }
}
