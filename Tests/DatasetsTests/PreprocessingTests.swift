import XCTest
@testable import Datasets

final class PreprocessingTests: XCTestCase {
    func testExtentFollowsSAMsRounding() {
        let e = ResizedExtent(originalWidth: 622, originalHeight: 529, side: 256)
        XCTAssertEqual(e.width, 256)
        XCTAssertEqual(e.height, Int(529.0 * 256.0 / 622.0 + 0.5))   // 218
        XCTAssertEqual(ResizedExtent(originalWidth: 775, originalHeight: 522, side: 1024).height, 690)
    }

    func testResamplerMatchesPILsBilinearTaps() {
        // Halving: PIL's antialiased bilinear averages with weights 1/8, 3/8, 3/8, 1/8 (renormalised at the edges).
        let src: [Float] = [0, 8, 16, 24, 32, 40, 48, 56]
        let out = Resampler.resize(src, channels: 1, width: 8, height: 1, toWidth: 4, toHeight: 1)
        XCTAssertEqual(out[0], Float(40) / 7, accuracy: 1e-4)   // (0·3 + 8·3 + 16·1) / 7
        XCTAssertEqual(out[1], 20, accuracy: 1e-4)   // (8·1 + 16·3 + 24·3 + 32·1) / 8
        // A constant image stays constant whatever the scale.
        let c = Resampler.resize([Float](repeating: 7, count: 3 * 30 * 20), channels: 3, width: 30, height: 20, toWidth: 11, toHeight: 7)
        XCTAssertTrue(c.allSatisfy { abs($0 - 7) < 1e-4 })
        // Enlarging is align_corners=False bilinear: 2 → 4 gives 0, 0.25, 0.75, 1 (× 4).
        XCTAssertEqual(Resampler.resize([0, 4], channels: 1, width: 2, height: 1, toWidth: 4, toHeight: 1), [0, 1, 3, 4])
    }

    func testLiteMedSAMMinMaxAndPadding() {
        let img = gradient(40, 20)
        let p = Preprocessing.image(img, side: 16, normalization: .minMax)
        XCTAssertEqual(p.extent.width, 16); XCTAssertEqual(p.extent.height, 8)
        XCTAssertEqual(p.data.count, 3 * 16 * 16)
        let inside = (0..<3).flatMap { c in (0..<8).flatMap { y in (0..<16).map { x in p.data[(c * 16 + y) * 16 + x] } } }
        XCTAssertEqual(inside.min()!, 0, accuracy: 1e-6)
        XCTAssertEqual(inside.max()!, 1, accuracy: 1e-6)
        for c in 0..<3 { for y in 8..<16 { for x in 0..<16 { XCTAssertEqual(p.data[(c * 16 + y) * 16 + x], 0) } } }
    }

    func testSAMMeanStd() {
        let img = Image(width: 8, height: 4, channels: 3, pixels: [UInt8](repeating: 200, count: 96))
        let p = Preprocessing.image(img, side: 8, normalization: .samPixelMeanStd)
        XCTAssertEqual(p.data[0], (200 - 123.675) / 58.395, accuracy: 1e-5)
        XCTAssertEqual(p.data[64], (200 - 116.28) / 57.12, accuracy: 1e-5)
        XCTAssertEqual(p.data[128 + 3 * 8 + 3], (200 - 103.53) / 57.375, accuracy: 1e-5)
        XCTAssertEqual(p.extent.height, 4)
        XCTAssertEqual(p.data[5 * 8 + 4], 0)  // padding rows 4..<8
    }

    func testMaskNearestIntoTheSameFrameAndBack() {
        var px = [UInt8](repeating: 0, count: 8 * 4)
        for y in 0..<4 { for x in 4..<8 { px[y * 8 + x] = 1 } }
        let (m, e) = Preprocessing.mask(Mask(width: 8, height: 4, pixels: px), side: 4)
        XCTAssertEqual(e.width, 4); XCTAssertEqual(e.height, 2)
        XCTAssertEqual(m, [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        let back = Preprocessing.toOriginal(m.map(Float.init), grid: 4, extent: e)
        XCTAssertEqual(back.count, 32)
        XCTAssertEqual(Metrics.binarize(back), px)
    }
}
