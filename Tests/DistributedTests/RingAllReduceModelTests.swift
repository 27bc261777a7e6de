import XCTest
@testable import Distributed

/// The scaling model `bench dist --hosts` prints beside its measurement.
final class RingAllReduceModelTests: XCTestCase {
    func testRingMovesTwiceTheShareOfTheBufferOverTheLink() {
        // 4 ranks, 100 MB: each rank sends 2·3/4 · 100 MB = 150 MB = 1.2 Gbit, 1.2 s at 1 Gbit/s.
        let m = RingAllReduceModel(ranks: 4, gradientBytes: 100e6, linkBitsPerSecond: 1e9)
        XCTAssertEqual(m.bytesPerRank, 150e6, accuracy: 1)
        XCTAssertEqual(m.allReduceSeconds, 1.2, accuracy: 1e-9)
        XCTAssertEqual(m.stepSeconds(compute: 2.8), 4.0, accuracy: 1e-9)
        XCTAssertEqual(m.allReduceShare(compute: 2.8), 0.3, accuracy: 1e-9)
        XCTAssertEqual(m.achievedBitsPerSecond(allReduceSeconds: 2.4), 0.5e9, accuracy: 1)
        XCTAssertEqual(RingAllReduceModel(ranks: 1, gradientBytes: 100e6, linkBitsPerSecond: 1e9).allReduceSeconds, 0)
    }

    func testLinkRatesInTcUnits() {
        XCTAssertEqual(RingAllReduceModel.bitsPerSecond("1gbit"), 1e9)
        XCTAssertEqual(RingAllReduceModel.bitsPerSecond("10gbit"), 1e10)
        XCTAssertEqual(RingAllReduceModel.bitsPerSecond("500mbit"), 5e8)
        XCTAssertNil(RingAllReduceModel.bitsPerSecond("none"))
        XCTAssertNil(RingAllReduceModel.bitsPerSecond("fast"))
    }
}
