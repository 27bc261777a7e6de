import Foundation
import Network
import TestSupport
import Training
import XCTest

/// Export, re-import: the same bits, in both formats, for g and h (also through the
/// `export` job on real checkpoints).
final class StateDictRoundTripTests: XCTestCase {
    func testGeneratorRoundTripsBitForBit() throws {
        let g = InteropSupport.seededGenerator()
        let dir = try InteropSupport.tempDir()
        for format in StateDictFormat.allCases {
            let path = dir + "/g." + format.rawValue
            try InteropSupport.write(try InteropSupport.export(g, format), path)
            let back = InteropSupport.seededGenerator(seed: 99)
            XCTAssertNotEqual(back.store.values, g.store.values)
            let report = try GeneratorImport.load(path, into: back, expecting: .init(variant: .hardnet39DS))
            XCTAssertEqual(report.tensors, g.store.parameters.count + g.buffers.names.count, "\(format)")
            XCTAssertEqual(back.store.values.map(\.bitPattern), g.store.values.map(\.bitPattern), "\(format)")
            XCTAssertEqual(back.buffers.flatValues.map(\.bitPattern), g.buffers.flatValues.map(\.bitPattern), "\(format)")
            XCTAssertEqual(report.metadata?.hardnetVariant, "hardnet39ds")
            XCTAssertEqual(report.metadata?.step, 7)
            XCTAssertEqual(report.warnings, [])

            let file = try StateDictFiles.open(path)
            XCTAssertEqual(file.dtype("backbone.base.0.norm.num_batches_tracked"), .int64)
            XCTAssertEqual(file.shape("backbone.base.0.norm.num_batches_tracked"), [])
            XCTAssertEqual(try file.int64s("decoder.up1.BN.num_batches_tracked"), [Int64(InteropSupport.batchesTracked)])
            XCTAssertEqual(file.keys.prefix(6), ["backbone.base.0.conv.weight", "backbone.base.0.norm.weight",
                                                 "backbone.base.0.norm.bias", "backbone.base.0.norm.running_mean",
                                                 "backbone.base.0.norm.running_var", "backbone.base.0.norm.num_batches_tracked"])
        }
    }

    func testSurrogateRoundTripsBitForBit() throws {
        var rng = SeededRNG(seed: 5)
        let h = SurrogateDecoder(context: TestContext.standard, rng: &rng)
        let entries = h.store.parameters.map { StateDictEntry(name: $0.name, shape: $0.shape, values: .float32(h.store.tensor($0).data)) }
        let dir = try InteropSupport.tempDir()
        for format in StateDictFormat.allCases {
            let path = dir + "/h." + format.rawValue
            try InteropSupport.write(try format.encode(entries, metadata: InteropMetadata(module: "ModelH")), path)
            var other = SeededRNG(seed: 6)
            let back = SurrogateDecoder(context: TestContext.standard, rng: &other)
            XCTAssertEqual(try SurrogateImport.load(path, into: back)?.module, "ModelH")
            XCTAssertEqual(back.store.values.map(\.bitPattern), h.store.values.map(\.bitPattern), "\(format)")
            XCTAssertEqual(try StateDictFiles.open(path).keys, ["conv1.weight", "conv1.bias", "norm1.weight", "norm1.bias",
                                                                "conv2.weight", "conv2.bias", "norm2.weight", "norm2.bias",
                                                                "conv3.weight", "conv3.bias"])
        }
    }

    /// The `export` job from a training checkpoint and from a train-h checkpoint.
    func testExportJobFromCheckpoints() throws {
        let dir = try InteropSupport.tempDir()
        let g = InteropSupport.seededGenerator()
        var cfg = TrainConfig()
        cfg.generator.backbone = "hardnet39ds"
        cfg.train.accumulate = 3
        let adam = Adam(parameterCount: g.store.count, lr: 1e-3, weightDecay: 0)
        let manifest = try DatasetManifest(train: [], validation: [])
        let identity = RunIdentity(config: cfg, samSHA256: String(repeating: "cd", count: 32), manifest: manifest)
        let gck = dir + "/g.ckpt"
        try TrainingCheckpoint(generator: g, config: cfg, adam: adam, epoch: 1, step: 5, bestValidationDice: nil,
                               history: [], identity: identity).write(to: gck)

        var rng = SeededRNG(seed: 5)
        let h = SurrogateDecoder(context: TestContext.standard, rng: &rng)
        let header = TrainingCheckpoint.Header(
            backbone: SurrogateCheckpoint.backbone, sam: "lite_medsam", epoch: 0, step: 2, bestValidationDice: nil,
            configYAML: try cfg.yaml(), parameters: h.store.parameters.map { .init(name: $0.name, shape: $0.shape) }, buffers: [],
            adam: .init(lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 2), history: [],
            generator: .init(path: gck, hash: SurrogateCheckpoint.hash(g)))
        let zeros = [Float](repeating: 0, count: h.store.count)
        let hck = dir + "/h.ckpt"
        try TrainingCheckpoint(header: header, parameters: h.store.values, buffers: [], adamM: zeros, adamV: zeros).write(to: hck)

        for format in StateDictFormat.allCases {
            let gOut = dir + "/g-export." + format.rawValue
            let s = try StateDictExport.export(checkpoint: gck, format: format, to: gOut, context: TestContext.standard)
            XCTAssertEqual(s.metadata, InteropMetadata(module: "ModelEmb", hardnetVariant: "hardnet39ds", sam: "lite_medsam",
                                                       samSHA256: identity.samSHA256, inputSize: 256, lossActivation: "sigmoid", step: 5))
            let back = InteropSupport.seededGenerator(seed: 3)
            try GeneratorImport.load(gOut, into: back, expecting: .init(variant: .hardnet39DS))
            XCTAssertEqual(back.store.values.map(\.bitPattern), g.store.values.map(\.bitPattern))
            XCTAssertEqual(back.buffers.flatValues.map(\.bitPattern), g.buffers.flatValues.map(\.bitPattern))
            XCTAssertEqual(try StateDictFiles.open(gOut).int64s("decoder.final.BN1.num_batches_tracked"), [15], "steps × accumulate")

            let hOut = dir + "/h-export." + format.rawValue
            let hs = try StateDictExport.export(checkpoint: hck, format: format, to: hOut, context: TestContext.standard)
            XCTAssertEqual(hs.metadata.module, "ModelH")
            XCTAssertEqual(hs.metadata.samSHA256, identity.samSHA256, "found through h's g checkpoint")
            XCTAssertEqual(hs.metadata.generatorHash, SurrogateCheckpoint.hash(g))
            var other = SeededRNG(seed: 8)
            let hBack = SurrogateDecoder(context: TestContext.standard, rng: &other)
            try SurrogateImport.load(hOut, into: hBack)
            XCTAssertEqual(hBack.store.values.map(\.bitPattern), h.store.values.map(\.bitPattern))
        }
    }
}
