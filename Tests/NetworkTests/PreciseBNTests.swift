import Foundation
import XCTest
@testable import Network

/// `recomputeRunningStats` (PreciseBN): every BatchNorm's running statistics become the plain
/// average of its train-mode batch statistics over the batches given, and nothing else changes.
final class PreciseBNTests: XCTestCase {
    func testRunningStatisticsBecomeThePlainAverageOfTheBatches() throws {
        var rng = SeededRNG(seed: 4)
        let g = PromptGenerator(variant: PromptGeneratorGradTests.tiny(depthwise: false), embeddingChannels: 8, outputSize: 12,
                                context: TestContexts.reference, rng: &rng)
        let batches = (0..<3).map { k in
            Tensor(shape: [2, 3, 64, 64], data: (0..<(2 * 3 * 64 * 64)).map { _ in Float.random(in: -1...1, using: &rng) * Float(k + 1) })
        }
        let params = g.store.values
        // One batch alone: momentum 1, so the running values are that batch's own statistics.
        var alone: [[Float]] = []
        for x in batches {
            try g.recomputeRunningStats(batches: 1) { _ in (x, nil) }
            alone.append(g.buffers.flatValues)
        }
        XCTAssertNotEqual(alone[0], alone[1], "different batches, different statistics")
        try g.recomputeRunningStats(batches: 3) { (batches[$0], nil) }
        let together = g.buffers.flatValues
        var worst: Float = 0
        for i in together.indices {
            let mean = (alone[0][i] + alone[1][i] + alone[2][i]) / 3
            worst = max(worst, abs(together[i] - mean) / max(abs(mean), 1e-3))
        }
        XCTAssertLessThan(worst, 1e-5, "running statistics vs the plain average of the three batches' (relative)")
        XCTAssertEqual(g.store.values, params, "parameters untouched")
        XCTAssertEqual(g.buffers.batchNormMomentum, 0.1, "training's momentum restored")
        // Training after it moves the statistics by 0.1 of a batch again, not by a third.
        _ = try g.forward(batches[0], training: true)
        let after = g.buffers.flatValues
        for i in stride(from: 0, to: after.count, by: 97) {
            XCTAssertEqual(after[i], 0.9 * together[i] + 0.1 * alone[0][i], accuracy: 1e-5 * max(1, abs(after[i])))
        }
    }
}
