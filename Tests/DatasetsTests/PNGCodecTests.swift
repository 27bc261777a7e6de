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
}
