import Foundation
import XCTest
@testable import Datasets

final class PNGCodecTests: XCTestCase {
    func testRoundTripGrayAndRGB() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gray = Image(width: 5, height: 3, channels: 1, pixels: (0..<15).map { UInt8($0 * 17) })
        let rgb = Image(width: 4, height: 2, channels: 3, pixels: (0..<24).map { UInt8($0 * 10) })
        try PNGCodec.write(gray, to: dir.appendingPathComponent("g.png").path)
        try PNGCodec.write(rgb, to: dir.appendingPathComponent("c.png").path)
        XCTAssertEqual(try PNGCodec.read(dir.appendingPathComponent("g.png").path, channels: 1), gray)
        XCTAssertEqual(try PNGCodec.read(dir.appendingPathComponent("c.png").path, channels: 3), rgb)
        // Gray read as RGB replicates the channel.
        let g3 = try PNGCodec.read(dir.appendingPathComponent("g.png").path, channels: 3)
        XCTAssertEqual(g3.pixels[3 * 4 + 1], gray.pixels[4])
    }

    func testCorruptAndMissingFilesNameThePath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.png").path
        try Data("not a png at all".utf8).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try PNGCodec.read(bad)) { e in
            XCTAssertEqual((e as? ImageError)?.path, bad)
        }
        // A truncated PNG: the header reads, the pixel data does not.
        let img = Image(width: 64, height: 64, channels: 3, pixels: (0..<(64 * 64 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let full = dir.appendingPathComponent("full.png").path
        try PNGCodec.write(img, to: full)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
        let cut = dir.appendingPathComponent("cut.png").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try PNGCodec.read(cut)) { e in
            XCTAssertTrue("\(e)".hasPrefix(cut), "\(e)")
        }
        let missing = dir.appendingPathComponent("nope.png").path
        XCTAssertThrowsError(try PNGCodec.read(missing)) { e in XCTAssertTrue("\(e)".contains("nope.png")) }
    }

    /// Real datasets ship 16-bit PNGs and TIFFs; one holding exactly an 8-bit photo's values (each
    /// ×257) must decode to the 8-bit file's pixels, in RGB and in gray, with no gamma step.
    func test16BitFilesDecodeToTheValuesTheir8BitVersionsHold() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png16-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = 32, h = 24
        // Every 8-bit value in every channel, and colours whose gray differs from their red.
        let rgb = Image(width: w, height: h, channels: 3, pixels: (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 3) })
        let wide = rgb.pixels.map { UInt16($0) * 257 }
        let p8 = dir.appendingPathComponent("photo8.png").path, p16 = dir.appendingPathComponent("photo16.png").path
        let t8 = dir.appendingPathComponent("photo8.tif").path, t16 = dir.appendingPathComponent("photo16.tif").path
        try PNGCodec.write(rgb, to: p8)
        try PNGCodec.write16(width: w, height: h, channels: 3, samples: wide, to: p16)
        try TIFFCodec.write(rgb, to: t8)
        try TIFFCodec.write16(width: w, height: h, channels: 3, samples: wide, to: t16)
        XCTAssertEqual(try ImageDecoder.read(p16, channels: 3), try ImageDecoder.read(p8, channels: 3))
        XCTAssertEqual(try ImageDecoder.read(p16, channels: 3), rgb)
        XCTAssertEqual(try ImageDecoder.read(t16, channels: 3), rgb)
        XCTAssertEqual(try ImageDecoder.read(t16, channels: 1), try ImageDecoder.read(t8, channels: 1))
        // A 16-bit gray file (a mask, say) gives its values back exactly, 0/65535 as 0/255.
        let gray = (0..<(w * h)).map { UInt8(truncatingIfNeeded: $0 &* 11) }
        let g16 = dir.appendingPathComponent("gray16.png").path
        try PNGCodec.write16(width: w, height: h, channels: 1, samples: gray.map { UInt16($0) * 257 }, to: g16)
        XCTAssertEqual(try ImageDecoder.read(g16, channels: 1).pixels, gray)
        XCTAssertEqual(try ImageDecoder.read(g16, channels: 3).pixels.enumerated().filter { $0.offset % 3 == 1 }.map(\.element), gray)
        let m16 = dir.appendingPathComponent("mask16.png").path
        try PNGCodec.write16(width: 4, height: 1, channels: 1, samples: [0, 65535, 65535, 0], to: m16)
        XCTAssertEqual(try ImageDecoder.read(m16, channels: 1).pixels, [0, 255, 255, 0])
        // A truncated 16-bit file names itself.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: p16))
        let cut = dir.appendingPathComponent("cut16.png").path
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try ImageDecoder.read(cut, channels: 3)) { XCTAssertTrue("\($0)".hasPrefix(cut), "\($0)") }
    }
}
