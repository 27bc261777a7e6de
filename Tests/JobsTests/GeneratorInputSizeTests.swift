import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest
@testable import Jobs

/// `generator.input_size` travels with the checkpoint: a g trained on 128² inputs is run on
/// 128² inputs by everything that rebuilds it from the checkpoint (predict, figures, eval).
final class GeneratorInputSizeTests: XCTestCase {
    func testCheckpointedSideIsTheSidePredictionUses() throws {
        let dir = try InferenceTestSupport.tempDir("gside")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try InferenceTestSupport.untrainedCheckpoint(at: dir + "/g.ckpt", cache: dir + "/cache") { $0.generator.inputSize = 128 }
        let trained = try TrainedModel.load(dir + "/g.ckpt", context: TestContext.standard)
        XCTAssertEqual(trained.model.generatorSide, 128)

        let image = DemoDataGenerator(size: 96, seed: 3).sample(index: 0).0
        let p = try AutoSAMPredictor(model: trained.model).predict(image)
        let s = trained.model.sam.imageSize
        let input = Tensor(shape: [1, 3, s, s], data: p.encoded.input.data)
        let small = BilinearResize.forward(input, height: 128, width: 128, alignCorners: true)
        let at128 = try trained.model.predict(images: small, embeddings: p.encoded.embedding).data
        let at256 = try trained.model.predict(images: input, embeddings: p.encoded.embedding).data
        func maxDiff(_ a: [Float]) -> Float { zip(a, p.lowResLogits.data).map { abs($0 - $1) }.max() ?? .infinity }
        XCTAssertTrue(at128 == p.lowResLogits.data, "the predictor resizes g's input to the checkpoint's side (max |Δ| \(maxDiff(at128)))")
        XCTAssertFalse(at256 == p.lowResLogits.data, "the side changes g's output, so the comparison above can fail")
    }
}
