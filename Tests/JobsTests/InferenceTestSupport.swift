import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest

/// Shared pieces of the predict / eval / figures tests: the embedded LiteMedSAM (skip when
/// absent), temporary folders, and an untrained AutoSAM checkpoint built directly (no
/// training run).
enum InferenceTestSupport {
    static var weightsPath: String { TestPaths.liteMedSAMWeights }

    nonisolated(unsafe) static var cachedSAM: SAM?

    static func liteMedSAM() throws -> SAM {
        if let s = cachedSAM { return s }
        _ = try TestPaths.requireLiteMedSAM()
        let s = try SAM.load(.liteMedSAM, checkpoint: weightsPath)
        cachedSAM = s
        return s
    }

    static func tempDir(_ label: String) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
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
        let g = PromptGenerator(variant: HarDNetVariant.named("hardnet39ds")!, rng: &rng)
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
