import XCTest
@testable import Distributed

/// The scaling model `bench dist --hosts` prints beside its measurement.
final class AllReduceModelTests: XCTestCase {
    func testRingAndBinomialTimesOverALink() {
        // 4 ranks, 100 MB at 1 Gbit/s. Ring: each rank sends 2·3/4 · 100 MB = 1.2 Gbit, 1.2 s.
        // Binomial: 2 rounds up, 2 down, 100 MB each: 3.2 s.
        let m = AllReduceModel(ranks: 4, gradientBytes: 100e6, linkBitsPerSecond: 1e9)
        XCTAssertEqual(m.ringBytesPerRank, 150e6, accuracy: 1)
        XCTAssertEqual(m.ringSeconds, 1.2, accuracy: 1e-9)
        XCTAssertEqual(m.binomialRounds, 4)
        XCTAssertEqual(m.binomialSeconds, 3.2, accuracy: 1e-9)
        XCTAssertEqual(m.ringEquivalentBitsPerSecond(allReduceSeconds: 2.4), 0.5e9, accuracy: 1)
        XCTAssertEqual(AllReduceModel.share(compute: 2.8, allReduce: 1.2), 0.3, accuracy: 1e-9)
        XCTAssertEqual(AllReduceModel(ranks: 2, gradientBytes: 1e6, linkBitsPerSecond: 1e9).binomialRounds, 2)
        XCTAssertEqual(AllReduceModel(ranks: 3, gradientBytes: 1e6, linkBitsPerSecond: 1e9).binomialRounds, 4)
        XCTAssertEqual(AllReduceModel(ranks: 1, gradientBytes: 100e6, linkBitsPerSecond: 1e9).ringSeconds, 0)
    }

    /// The hosts' own rate, measured from an unshaped ring, bounds a faster link.
    func testHostsBoundAFasterLink() {
        let unshaped = AllReduceModel(ranks: 2, gradientBytes: 100e6, linkBitsPerSecond: .infinity)
        let host = unshaped.hostBitsPerSecond(unshapedRingSeconds: 0.2)
        XCTAssertEqual(host, 4e9, accuracy: 1)
        XCTAssertEqual(AllReduceModel(ranks: 2, gradientBytes: 100e6, linkBitsPerSecond: 1e10, hostBitsPerSecond: host).ringSeconds, 0.2, accuracy: 1e-9)
        XCTAssertEqual(AllReduceModel(ranks: 2, gradientBytes: 100e6, linkBitsPerSecond: 1e9, hostBitsPerSecond: host).ringSeconds, 0.8, accuracy: 1e-9)
    }

    func testLinkRatesInTcUnits() {
        XCTAssertEqual(AllReduceModel.bitsPerSecond("1gbit"), 1e9)
        XCTAssertEqual(AllReduceModel.bitsPerSecond("10gbit"), 1e10)
        XCTAssertEqual(AllReduceModel.bitsPerSecond("500mbit"), 5e8)
        XCTAssertNil(AllReduceModel.bitsPerSecond("none"))
        XCTAssertNil(AllReduceModel.bitsPerSecond("fast"))
    }
}
