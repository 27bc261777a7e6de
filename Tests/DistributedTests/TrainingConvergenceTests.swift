import Datasets
import Foundation
import TestSupport
import Training
import XCTest
@testable import Distributed
@testable import Network

/// Training the embedded default on synthetic lesions must raise validation Dice clearly,
/// validated with PreciseBN statistics (`train.precise_bn_images`).
final class TrainingConvergenceTests: XCTestCase {
    func testValidationDiceRisesOnSyntheticLesions() throws {
        let weights = try TestPaths.requireLiteMedSAM()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("conv-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try DemoDataGenerator(size: 128, seed: 11).write(to: dir + "/data", train: 16, test: 1)
        var c = TrainConfig()
        c.model.checkpoint = weights
        c.generator.backbone = "hardnet39ds"
        c.data.train = dir + "/data/TrainDataset"
        c.data.validationFraction = 0.25
        c.augment.enabled = false
        c.train.epochs = 6
        c.train.batchSize = 4
        c.train.lr = 1e-3
        c.train.preciseBNImages = 12
        c.output.dir = dir + "/run"
        c.output.cache = dir + "/cache"
        let t = try Trainer(config: c, comm: SingleProcessCommunicator(), context: TestContext.standard, print: { _ in })
        XCTAssertEqual(t.validationSamples.count, 4)
        try t.run()
        let dice = t.history.compactMap { $0["val_dice"] }
        XCTAssertEqual(dice.count, 7, "initial + one validation per epoch")
        let initial = dice.first!, final = dice.suffix(3).reduce(0, +) / 3
        print("validation Dice: initial \(initial), per epoch \(dice.map { String(format: "%.3f", $0) }.joined(separator: " "))")
        // Measured on this machine kind: initial 0.000, then 0.83 0.39 0.54 0.74 0.72 0.71 (mean of
        // the last three 0.72). With the exponential running statistics instead, the
        // same data and rate gave 0.000 in 13 of the first 15 epochs and 0.61–0.66 after 21–25.
        XCTAssertGreaterThan(final, initial + 0.3, "validation Dice must rise clearly above its initial value")
    }
}
