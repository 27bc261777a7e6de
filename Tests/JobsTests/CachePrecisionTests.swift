import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest
@testable import Jobs

/// What storing embeddings as float16 (`output.cache_precision`, the default) changes, on real
/// polyps (../shared/data/samples; skipped without it): the masks a box-prompted SAM draws, and
/// the loss and the gradient reaching g in a training step. The bounds are the measured worst
/// cases with headroom; the README quotes the measurements.
final class CachePrecisionTests: XCTestCase {
    func testFloat16EmbeddingsChangeMasksLossAndGradientsWithinTolerance() throws {
        let samples = try TestPaths.sharedSamples() + "/polyp"
        let sam = try InferenceTestSupport.liteMedSAM()
        let dir = try InferenceTestSupport.tempDir("precision")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pipeline = SamplePipeline(sam: sam, cache: try EmbeddingCache(directory: dir, precision: .float32),
                                      encoderID: try SamplePipeline.encoderID(kind: .liteMedSAM, checkpoint: InferenceTestSupport.weightsPath))
        let items = try SegmentationDataset.discover(samples).flatMap(\.samples).map { try pipeline.prepare($0, augmentation: .identity) }
        XCTAssertEqual(items.count, 7)
        let predictor = SAMPredictor(sam: sam)
        var worstEmbedding = 0.0, worstMaskIoU = 1.0, worstDiceChange = 0.0
        for p in items {
            let e32 = p.embedding, e16 = Tensor(shape: e32.shape, data: e32.data.map { Float(Float16($0)) })
            worstEmbedding = max(worstEmbedding, relative(e16.data, e32.data))
            let box = BoxPrompt.bounding(width: p.mask.width, height: p.mask.height, pixels: p.mask.pixels)!
            let masks = try [e32, e16].map { e in
                let low = try predictor.lowResLogits(embedding: e.reshaped([1] + e.shape), extent: p.extent, box: box)
                return SAMPredictor.threshold(predictor.originalLogits(low, extent: p.extent), width: p.mask.width, height: p.mask.height)
            }
            worstMaskIoU = min(worstMaskIoU, Metrics.iou(masks[0], masks[1]))
            worstDiceChange = max(worstDiceChange, abs(Metrics.dice(masks[0], p.mask) - Metrics.dice(masks[1], p.mask)))
        }
        // A training step's decoder side with a random g, on the 7 images as one batch.
        var rng = SeededRNG(seed: 3)
        let g = PromptGenerator(variant: HarDNetVariant.named("hardnet39ds")!, context: TestContext.standard, rng: &rng)
        let model = AutoSAM(sam: sam, generator: g)
        let batch = pipeline.batch(items)
        let (z, _) = try g.forward(batch.images, training: false)
        let half = Tensor(shape: batch.embeddings.shape, data: batch.embeddings.data.map { Float(Float16($0)) })
        let (r32, dz32) = try model.decoderStep(z: z, embeddings: batch.embeddings, targets: batch.targets, weight: 1)
        let (r16, dz16) = try model.decoderStep(z: z, embeddings: half, targets: batch.targets, weight: 1)
        let lossChange = abs(r16.loss - r32.loss) / abs(r32.loss), gradChange = relative(dz16.data, dz32.data)
        print(String(format: "float16 cache: embedding max|Δ|/max|e| %.2e; box-prompted masks IoU ≥ %.5f, Dice change ≤ %.2e; "
                     + "loss change %.2e relative; dL/dZ max|Δ|/max|ref| %.2e", worstEmbedding, worstMaskIoU, worstDiceChange,
                     lossChange, gradChange))
        XCTAssertGreaterThan(worstEmbedding, 0, "float16 must round something (else this measures nothing)")
        XCTAssertLessThanOrEqual(worstEmbedding, 1.0 / 2048)
        // Measured (7 real polyps): 3.1e-4, IoU 0.99987, 5.8e-5, 2.6e-7, 1.4e-4.
        XCTAssertGreaterThanOrEqual(worstMaskIoU, 0.999)
        XCTAssertLessThanOrEqual(worstDiceChange, 5e-4)
        XCTAssertLessThanOrEqual(lossChange, 2e-6)
        XCTAssertLessThanOrEqual(gradChange, 1e-3)
    }

    /// max|a − b| / max|b|.
    func relative(_ a: [Float], _ b: [Float]) -> Double {
        var d: Float = 0, m: Float = 0
        for i in b.indices { d = max(d, abs(a[i] - b[i])); m = max(m, abs(b[i])) }
        return Double(d / max(m, 1e-30))
    }
}
