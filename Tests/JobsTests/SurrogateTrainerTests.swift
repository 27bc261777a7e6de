import Datasets
import Foundation
import Training
import TestSupport
import XCTest
@testable import Jobs
@testable import Network

/// train-h on a tiny synthetic set: 8 demo pairs (64²), 2 held out for validation, so the
/// 6 training images form one fixed batch every iteration. g is a fresh HarDNet-39DS
/// written as an AutoSAM training checkpoint (no full training, no SAM weights needed).
final class SurrogateTrainerTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("trainh-\(UUID().uuidString)").path
        _ = try DemoDataGenerator(size: 64, seed: 3).write(to: dir, train: 8, test: 1)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Writes g with `train`'s checkpoint writer and returns its path.
    func writeGenerator(seed: UInt64 = 1, name: String = "g.ckpt") throws -> String {
        var cfg = TrainConfig()
        cfg.generator.backbone = "hardnet39ds"
        cfg.data.train = dir + "/TrainDataset"
        cfg.data.validationFraction = 0.25
        cfg.loss.activation = .sigmoid
        var rng = SeededRNG(seed: seed)
        let g = PromptGenerator(variant: .hardnet39DS, context: TestContext.standard, rng: &rng)
        let adam = Adam(parameterCount: g.store.count)
        let path = dir + "/" + name
        try TrainingCheckpoint(generator: g, config: cfg, adam: adam, epoch: 1, step: 1, bestValidationDice: nil, history: [])
            .write(to: path)
        return path
    }

    func options(iterations: Int) -> SurrogateOptions {
        var o = SurrogateOptions()
        o.iterations = iterations
        o.batchSize = 24            // capped to the 6 training images: the same batch every iteration
        o.lr = 1e-3
        o.seed = 7
        o.output = dir + "/out/h.ckpt"
        return o
    }

    func testTrainsSavesAndReloads() throws {
        let gPath = try writeGenerator()
        var lines: [String] = []
        let t = try SurrogateTrainer(generatorCheckpoint: gPath, options: options(iterations: 8), context: TestContext.standard, print: { lines.append($0) })
        XCTAssertEqual(t.trainSamples.count, 6)
        XCTAssertEqual(t.validationSamples.count, 2)
        XCTAssertEqual(t.effectiveBatch, 6)
        let scores = try t.run()

        // The loss must fall on this fixed batch: first two iterations vs last two.
        let losses = t.history.compactMap { $0["loss"] }
        XCTAssertEqual(losses.count, 8)
        XCTAssertTrue(losses.allSatisfy(\.isFinite))
        let first = (losses[0] + losses[1]) / 2, last = (losses[6] + losses[7]) / 2
        XCTAssertLessThan(last, first * 0.97, "h's loss did not decrease: \(losses)")

        // g ran once per training image (cached afterwards), and never received updates.
        XCTAssertEqual(t.generatorRuns, 6)
        XCTAssertEqual(scores.count, 2)
        XCTAssertTrue(scores.allSatisfy { $0.dice >= 0 && $0.dice <= 1 })
        XCTAssertTrue(lines.contains { $0.contains("iteration 8/8") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("validation (2 images") })

        // The checkpoint reloads with identical parameters and Adam state, bound to the same g.
        let ck = try TrainingCheckpoint.read(dir + "/out/h.ckpt")
        XCTAssertEqual(ck.header.backbone, "surrogate_h")
        XCTAssertEqual(ck.header.step, 8)
        XCTAssertEqual(ck.header.adam.step, 8)
        XCTAssertEqual(ck.adamM, t.adam.m)
        XCTAssertEqual(ck.adamV, t.adam.v)
        XCTAssertEqual(ck.header.generator?.path, gPath)
        let m = try SurrogateModel.load(dir + "/out/h.ckpt", context: TestContext.standard)
        XCTAssertEqual(m.decoder.store.values, t.model.decoder.store.values)
        XCTAssertEqual(m.decoder.store.parameters.map(\.name), ["conv1.weight", "conv1.bias", "norm1.weight", "norm1.bias",
                                                                "conv2.weight", "conv2.bias", "norm2.weight", "norm2.bias",
                                                                "conv3.weight", "conv3.bias"])
        XCTAssertEqual(m.generator.store.values, t.model.generator.store.values)

        // Scoring the reloaded h(g(I)) gives the same per-image numbers as at the end of training.
        let again = try SurrogateEvaluator(model: m).evaluate(t.validationSamples)
        XCTAssertEqual(again.map(\.dice), scores.map(\.dice))

        // An h checkpoint is refused where a g checkpoint is expected, and vice versa.
        XCTAssertThrowsError(try TrainedModel.loadGenerator(dir + "/out/h.ckpt", context: TestContext.standard)) {
            XCTAssertTrue("\($0)".contains("surrogate decoder h checkpoint"), "\($0)")
        }
        XCTAssertThrowsError(try SurrogateModel.load(gPath, context: TestContext.standard)) {
            XCTAssertTrue("\($0)".contains("not a surrogate decoder h checkpoint"), "\($0)")
        }
        // A different g under the recorded path is detected.
        _ = try writeGenerator(seed: 2)
        XCTAssertThrowsError(try SurrogateModel.load(dir + "/out/h.ckpt", context: TestContext.standard)) {
            XCTAssertTrue("\($0)".contains("not the one the h"), "\($0)")
        }
    }

    func testTruncatedCheckpointNamesTheFile() throws {
        let gPath = try writeGenerator()
        let t = try SurrogateTrainer(generatorCheckpoint: gPath, options: options(iterations: 1), context: TestContext.standard, print: { _ in })
        try t.step(t.nextBatch())
        let good = dir + "/h-good.ckpt", bad = dir + "/h-truncated.ckpt"
        try t.checkpoint().write(to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count - 1000).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try SurrogateModel.load(bad, context: TestContext.standard)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains(bad), "error does not name the file: \(s)")
            XCTAssertTrue(s.contains("truncated"), s)
        }
        XCTAssertNoThrow(try SurrogateModel.load(good, context: TestContext.standard))
    }

    func testBatchesCoverTheTrainingSetEvenly() throws {
        let gPath = try writeGenerator()
        var o = options(iterations: 1)
        o.batchSize = 4
        let t = try SurrogateTrainer(generatorCheckpoint: gPath, options: o, context: TestContext.standard, print: { _ in })
        var counts = [Int](repeating: 0, count: t.trainSamples.count)
        for _ in 0..<3 {
            let b = t.nextBatch()
            XCTAssertEqual(b.count, 4)
            XCTAssertEqual(Set(b).count, 4, "an image twice in one batch")
            for i in b { counts[i] += 1 }
        }
        XCTAssertEqual(counts, [Int](repeating: 2, count: 6), "12 draws over 6 images: two passes")
    }

    /// The parameter-only backward used for a frozen g gives exactly backward's gradients.
    func testParameterOnlyBackwardMatchesFullBackward() throws {
        var rng = SeededRNG(seed: 5)
        let h = SurrogateDecoder(inChannels: 8, context: TestContext.standard, rng: &rng)
        let z = Tensor.uniform([2, 8, 6, 6], rng: &rng, lo: -1, hi: 1)
        let (y, c) = try h.forward(z)
        let dy = Tensor.uniform(y.shape, rng: &rng, lo: -1, hi: 1)
        try h.backward(dy, c)
        let full = h.store.grads
        h.store.zeroGrads()
        try h.backwardParameters(dy, c)
        XCTAssertEqual(h.store.grads, full)
        XCTAssertTrue(full.contains { $0 != 0 })
    }
}
