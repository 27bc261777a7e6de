import Foundation
import TestSupport
import Training
import XCTest
@testable import Distributed
@testable import Network

/// Each g of `generator.input` (image through the ImageNet MobileNetV2, SAM's embedding, both)
/// trains on real polyp samples with the real LiteMedSAM: the loss falls over a few steps on
/// the same images, the checkpoint rebuilds that g, and its export imports back bit for bit.
final class GeneratorInputTrainingTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ginput-\(UUID().uuidString)").path
    }

    override func tearDown() { if let dir { try? FileManager.default.removeItem(atPath: dir) } }

    func config(_ input: GeneratorInput, out: String) throws -> TrainConfig {
        var c = TrainConfig()
        c.model.checkpoint = try TestPaths.requireLiteMedSAM()
        c.generator.backbone = "mobilenet_v2"
        c.generator.input = input
        if input != .embedding { c.generator.pretrained = try TestPaths.requireMobileNetV2() }
        c.data.train = try TestPaths.sharedSamples() + "/polyp/CVC-ClinicDB"
        c.data.validationFraction = 0
        c.augment.enabled = false
        c.train.epochs = 4
        c.train.batchSize = 5
        c.train.lr = 1e-3
        c.output.dir = dir + "/" + out
        c.output.cache = dir + "/cache"
        return c
    }

    func losses(_ out: String) throws -> [Double] {
        let text = try String(contentsOfFile: dir + "/" + out + "/steps.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["loss"] as! Double
        }
    }

    func trainAndCheck(_ input: GeneratorInput) throws {
        let out = input.rawValue
        let cfg = try config(input, out: out)
        let trainer = try Trainer(config: cfg, comm: SingleProcessCommunicator(), context: TestContext.standard, print: { _ in })
        XCTAssertEqual(trainer.model.generator.input, input)
        XCTAssertEqual(trainer.model.generator.readsEmbedding, input != .image)
        try trainer.run()
        let l = try losses(out)
        print("generator.input \(input): step losses \(l.map { String(format: "%.4f", $0) }.joined(separator: " "))")
        XCTAssertEqual(l.count, 4, "one step per epoch (5 images, batch 5)")
        XCTAssertLessThan(l.last!, 0.8 * l.first!, "the loss falls on the same 5 images")

        // The checkpoint rebuilds this g, and it predicts as the trainer's own did.
        let rebuilt = try TrainedModel.load(dir + "/" + out + "/last.ckpt", context: TestContext.standard)
        XCTAssertEqual(rebuilt.config.generator.input, input)
        XCTAssertEqual(rebuilt.model.generator.store.values, trainer.model.generator.store.values)

        // export → import: the same tensors, and the import recognises the input from the file.
        let exported = dir + "/" + out + "/g.safetensors"
        try StateDictExport.export(checkpoint: dir + "/" + out + "/last.ckpt", format: .safetensors, to: exported,
                                   context: TestContext.standard)
        let loaded = try ImportedGenerator.load(exported, context: TestContext.standard)
        XCTAssertEqual(loaded.config.generator.input, input)
        XCTAssertEqual(loaded.model.generator.store.values.map(\.bitPattern),
                       trainer.model.generator.store.values.map(\.bitPattern))
    }

    func testImageInputWithPretrainedMobileNetV2Trains() throws { try trainAndCheck(.image) }
    func testEmbeddingInputTrains() throws { try trainAndCheck(.embedding) }
    func testBothInputsTrain() throws { try trainAndCheck(.both) }

    func testPretrainedWithEmbeddingOnlyIsRefused() throws {
        var c = try config(.embedding, out: "x")
        c.generator.pretrained = "weights/mobilenet_v2-b0353104.pth"
        XCTAssertThrowsError(try c.check(path: "test.yaml")) { XCTAssertTrue("\($0)".contains("builds no backbone"), "\($0)") }
    }
}
