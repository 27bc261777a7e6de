import Datasets
import Foundation
import Network
import Training

/// SAM prompted with each ground-truth mask's bounding box, from the same cached embeddings
/// AutoSAM reads: the reference a box-prompted SAM sets for g's learned prompt.
struct BoxBaseline {
    let pipeline: SamplePipeline

    func evaluate(_ samples: [DatasetSample]) throws -> [(dice: Double, iou: Double)] {
        let predictor = SAMPredictor(sam: pipeline.sam)
        return try samples.map { sample in
            let p = try pipeline.prepare(sample, augmentation: .identity)
            var pred = Mask(width: p.mask.width, height: p.mask.height, pixels: [UInt8](repeating: 0, count: p.mask.pixels.count))
            if let box = BoxPrompt.bounding(width: p.mask.width, height: p.mask.height, pixels: p.mask.pixels) {
                let embedding = p.embedding.reshaped([1] + p.embedding.shape)
                let low = try predictor.lowResLogits(embedding: embedding, extent: p.extent, box: box)
                pred = SAMPredictor.threshold(predictor.originalLogits(low, extent: p.extent), width: p.mask.width, height: p.mask.height)
            }
            return (Metrics.dice(pred, p.mask), Metrics.iou(pred, p.mask))
        }
    }
}
