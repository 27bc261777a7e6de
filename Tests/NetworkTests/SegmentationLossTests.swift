import XCTest
@testable import Network

final class SegmentationLossTests: XCTestCase {
    func target(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededRNG(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.nextUniform() > 0.6 ? 1 : 0 })
    }

    func testSigmoidFormGradientMatchesFiniteDifferences() {
        var rng = SeededRNG(seed: 3)
        let x = Tensor.randn([3, 1, 5, 7], rng: &rng, scale: 2)
        let t = target(x.shape, seed: 4)
        let r = SegmentationLoss.bceDice(logits: x, target: t)
        let num = GradCheck.numeric(x, eps: 1e-2, maxProbes: 105) { SegmentationLoss.bceDice(logits: $0, target: t).loss }
        XCTAssertLessThan(GradCheck.relativeError(analytic: r.gradient, numeric: num), 1e-2)
    }

    func testMinMaxFormGradientMatchesFiniteDifferences() {
        var rng = SeededRNG(seed: 5)
        let x = Tensor.randn([2, 1, 6, 5], rng: &rng)
        let t = target(x.shape, seed: 6)
        let r = SegmentationLoss.bceDice(logits: x, target: t, activation: .minMax)
        // The min and max entries are included; eps stays below the gap to their neighbours.
        let num = GradCheck.numeric(x, eps: 1e-3, maxProbes: 60) {
            SegmentationLoss.bceDice(logits: $0, target: t, activation: .minMax).loss
        }
        XCTAssertLessThan(GradCheck.relativeError(analytic: r.gradient, numeric: num), 2e-2)
    }

    func testKnownValues() {
        // One sample, two pixels, logits 0 → p = 0.5: BCE = ln 2; Dice = 1 − (2·0.5 + 1)/(1 + 1 + 1) = 1/3.
        let r = SegmentationLoss.bceDice(logits: Tensor(shape: [1, 1, 1, 2], data: [0, 0]),
                                         target: Tensor(shape: [1, 1, 1, 2], data: [1, 0]))
        XCTAssertEqual(r.bce, log(2), accuracy: 1e-12)
        XCTAssertEqual(r.dice, 1.0 / 3.0, accuracy: 1e-12)
        // A confident correct prediction of an empty mask costs almost nothing.
        let empty = SegmentationLoss.bceDice(logits: Tensor(shape: [1, 1, 2, 2], repeating: -20),
                                             target: Tensor(zeros: [1, 1, 2, 2]))
        XCTAssertLessThan(empty.loss, 1e-6)
    }
}
