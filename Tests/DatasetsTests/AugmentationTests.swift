import Foundation
import XCTest
@testable import Datasets

final class AugmentationTests: XCTestCase {
    func testParamsAreAPureFunctionOfSeedEpochIndexAndInRange() throws {
        let a = Augmentation.params(seed: 42, epoch: 3, index: 7)
        XCTAssertEqual(a, Augmentation.params(seed: 42, epoch: 3, index: 7))
        XCTAssertNotEqual(a, Augmentation.params(seed: 43, epoch: 3, index: 7))
        XCTAssertNotEqual(a, Augmentation.params(seed: 42, epoch: 4, index: 7))
        var flipsH = 0
        for i in 0..<400 {
            let p = Augmentation.params(seed: 1, epoch: 0, index: i)
            XCTAssertTrue(abs(p.angle) <= 22 && p.scale >= 0.75 && p.scale <= 1.25)
            if p.flipH { flipsH += 1 }
        }
        XCTAssertTrue((120...280).contains(flipsH), "\(flipsH)")
        // Codable + Hashable: usable as a cache key.
        let data = try JSONEncoder().encode(a)
        XCTAssertEqual(try JSONDecoder().decode(AugmentationParams.self, from: data), a)
        XCTAssertEqual(Set([a, a, .identity]).count, 2)
    }

    func testFlipsAreExact() {
        let img = Image(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Augmentation.apply(AugmentationParams(flipH: true), to: img).pixels, [3, 2, 1, 6, 5, 4])
        XCTAssertEqual(Augmentation.apply(AugmentationParams(flipV: true), to: img).pixels, [4, 5, 6, 1, 2, 3])
        let m = Mask(width: 3, height: 2, pixels: [1, 0, 0, 0, 0, 0])
        XCTAssertEqual(Augmentation.apply(AugmentationParams(flipH: true, flipV: true), to: m).pixels, [0, 0, 0, 0, 0, 1])
    }

    func testSameSeedSameOutputAndImageAndMaskStayAligned() {
        // An image with bright blobs; the mask is its own bright pixels.
        let w = 64, h = 48
        var px = [UInt8](repeating: 30, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            let inBlob = (x - 20) * (x - 20) + (y - 18) * (y - 18) < 120 || (x > 40 && x < 56 && y > 26 && y < 40)
            if inBlob { for k in 0..<3 { px[(y * w + x) * 3 + k] = 230 } }
        } }
        let img = Image(width: w, height: h, channels: 3, pixels: px)
        let mask = Mask(width: w, height: h, pixels: (0..<(w * h)).map { px[$0 * 3] > 128 ? 1 : 0 })
        for i in 0..<5 {
            let p = Augmentation.params(seed: 7, epoch: 0, index: i)
            let a1 = Augmentation.apply(p, to: img), a2 = Augmentation.apply(Augmentation.params(seed: 7, epoch: 0, index: i), to: img)
            XCTAssertEqual(a1, a2)
            let m = Augmentation.apply(p, to: mask)
            XCTAssertEqual(m, Augmentation.apply(p, to: mask))
            let fromImage = (0..<(w * h)).map { a1.pixels[$0 * 3] > 128 ? UInt8(1) : 0 }
            XCTAssertGreaterThan(Metrics.dice(m.pixels, fromImage), 0.9, "params \(p)")
            XCTAssertGreaterThan(m.foregroundCount, 0)
        }
    }

    func testRotationDirectionAndScale() {
        // A single bright pixel right of the centre moves up under +90° (counter-clockwise as displayed).
        var px = [UInt8](repeating: 0, count: 11 * 11)
        px[5 * 11 + 8] = 1
        let m = Augmentation.apply(AugmentationParams(angle: 90), to: Mask(width: 11, height: 11, pixels: px))
        XCTAssertEqual(m.pixels[2 * 11 + 5], 1)
        XCTAssertEqual(m.foregroundCount, 1)
        // Scale 0.5 halves a centred square's side.
        var sq = [UInt8](repeating: 0, count: 20 * 20)
        for y in 4..<16 { for x in 4..<16 { sq[y * 20 + x] = 1 } }
        XCTAssertEqual(Augmentation.apply(AugmentationParams(scale: 0.5), to: Mask(width: 20, height: 20, pixels: sq)).foregroundCount, 36)
    }
}
