import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest

/// Shared pieces of the predict / eval / figures tests: the embedded LiteMedSAM (skip when
/// absent), temporary folders, and an untrained AutoSAM checkpoint written by the
/// trainer's checkpoint writer (no training run).
enum InferenceTestSupport {
    static var weightsPath: String { TestPaths.liteMedSAMWeights }

    nonisolated(unsafe) static var cachedSAM: SAM?

    static func liteMedSAM() throws -> SAM {
        if let s = cachedSAM { return s }
        _ = try TestPaths.requireLiteMedSAM()
        let s = try SAM.load(.liteMedSAM, checkpoint: weightsPath, context: TestContext.standard)
        cachedSAM = s
        return s
    }

    static func tempDir(_ label: String) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// A checkpoint of a freshly initialised hardnet39ds g, written by `Trainer.checkpoint()`'s
    /// writer before any step, naming the embedded LiteMedSAM.
    static func untrainedCheckpoint(at path: String, cache: String, seed: UInt64 = 0,
                                    edit: (inout TrainConfig) -> Void = { _ in }) throws {
        _ = try liteMedSAM()
        var cfg = TrainConfig()
        cfg.generator.backbone = "hardnet39ds"
        cfg.model.checkpoint = weightsPath
        cfg.output.cache = cache
        edit(&cfg)
        var rng = SeededRNG(seed: seed)
        let g = PromptGenerator(variant: HarDNetVariant.named("hardnet39ds")!, context: TestContext.standard, rng: &rng)
        let adam = Adam(parameterCount: g.store.count, lr: cfg.train.lr, weightDecay: cfg.train.weightDecay)
        try TrainingCheckpoint(generator: g, config: cfg, adam: adam, epoch: 0, step: 0, bestValidationDice: nil, history: [])
            .write(to: path)
    }
}
