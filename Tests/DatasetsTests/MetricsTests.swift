import XCTest
@testable import Datasets

final class MetricsTests: XCTestCase {
    func testHandComputedDiceAndIoU() {
        let p: [UInt8] = [1, 1, 1, 0, 0, 0]
        let g: [UInt8] = [0, 1, 1, 1, 0, 0]
        // |P∩G| = 2, |P| = |G| = 3, |P∪G| = 4.
        XCTAssertEqual(Metrics.dice(p, g), 4.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(Metrics.iou(p, g), 0.5, accuracy: 1e-12)
        XCTAssertEqual(Metrics.dice(g, g), 1)
        XCTAssertEqual(Metrics.iou([1, 0], [0, 1]), 0)
    }

    func testEmptyMaskConvention() {
        let empty: [UInt8] = [0, 0, 0, 0], some: [UInt8] = [0, 1, 0, 0]
        XCTAssertEqual(Metrics.dice(empty, empty), 1)   // both empty: perfect
        XCTAssertEqual(Metrics.iou(empty, empty), 1)
        XCTAssertEqual(Metrics.dice(some, empty), 0)    // false positive on an empty ground truth
        XCTAssertEqual(Metrics.iou(some, empty), 0)
        XCTAssertEqual(Metrics.dice(empty, some), 0)    // missed everything
        XCTAssertEqual(Metrics.iou(empty, some), 0)
    }

    func testMAEThresholdAndAggregation() {
        XCTAssertEqual(Metrics.meanAbsoluteError([0.25, 1, 0, 0.5], [0, 1, 1, 0]), (0.25 + 0 + 1 + 0.5) / 4, accuracy: 1e-12)
        XCTAssertEqual(Metrics.binarize([0.2, 0.5, 0.51, 0.9]), [0, 0, 1, 1])
        let s = MeanStd([0.5, 0.7, 0.9])
        XCTAssertEqual(s.mean, 0.7, accuracy: 1e-12)
        XCTAssertEqual(s.std, (0.08 / 3).squareRoot(), accuracy: 1e-12)   // population std (ddof 0)
        XCTAssertEqual(s.count, 3)
        XCTAssertTrue(MeanStd([]).mean.isNaN)
    }
}
