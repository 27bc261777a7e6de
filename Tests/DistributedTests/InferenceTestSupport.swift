import Datasets
@testable import Distributed
import Foundation
import Network
import XCTest

/// Shared pieces of the predict / eval / figures tests: the embedded LiteMedSAM (skip when
/// absent), temporary folders, the real samples (skip when ../shared is absent), and an
/// untrained AutoSAM checkpoint built directly (no training run).
enum InferenceTestSupport {
    static var weightsPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("weights/lite_medsam.pth").path
    }

    nonisolated(unsafe) static var cachedSAM: SAM?

    static func liteMedSAM() throws -> SAM {
        if let s = cachedSAM { return s }
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            throw XCTSkip("weights/lite_medsam.pth not present; run Launch/fetch-weights.sh")
        }
        let s = try SAM.load(.liteMedSAM, checkpoint: weightsPath, context: TestContext.standard)
        cachedSAM = s
        return s
    }

    static func tempDir(_ label: String) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    static func sharedSamples(file: StaticString = #filePath) throws -> String {
        let here = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        for c in [here.appendingPathComponent("../../../shared/data/samples").standardized.path, "/work/shared/data/samples"]
        where FileManager.default.fileExists(atPath: c) { return c }
        throw XCTSkip("real samples not available (../shared/data/samples is absent)")
    }

    /// A checkpoint of a freshly initialised hardnet39ds g (as Trainer.checkpoint() lays it out),
    /// naming the embedded LiteMedSAM.
    static func untrainedCheckpoint(at path: String, cache: String, seed: UInt64 = 0) throws {
        _ = try liteMedSAM()
        var cfg = TrainConfig()
        cfg.generator.backbone = "hardnet39ds"
        cfg.model.checkpoint = weightsPath
        cfg.output.cache = cache
        var rng = SeededRNG(seed: seed)
        let g = PromptGenerator(variant: HarDNetVariant.named("hardnet39ds")!, context: TestContext.standard, rng: &rng)
        let n = g.store.count
        let header = TrainingCheckpoint.Header(
            backbone: "hardnet39ds", sam: SAMKind.liteMedSAM.rawValue, epoch: 0, step: 0, bestValidationDice: nil,
            configYAML: try cfg.yaml(),
            parameters: g.store.parameters.map { .init(name: $0.name, shape: $0.shape) },
            buffers: g.buffers.named.map { .init(name: $0.name, shape: [$0.values.count]) },
            adam: .init(lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-5, step: 0),
            history: [])
        try TrainingCheckpoint(header: header, parameters: g.store.values, buffers: g.buffers.named.flatMap(\.values),
                               adamM: [Float](repeating: 0, count: n), adamV: [Float](repeating: 0, count: n)).write(to: path)
    }
}
