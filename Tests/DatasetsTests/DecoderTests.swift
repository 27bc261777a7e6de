import Foundation
import XCTest
@testable import Datasets

final class DecoderTests: XCTestCase {
    func testJPEGRoundTripRGBAndGray() throws {
        let t = try TempDir()
        let img = gradient(40, 30)
        try JPEGCodec.write(img, to: t.path("a.jpg"), quality: 95)
        let back = try JPEGCodec.read(t.path("a.jpg"), channels: 3)
        XCTAssertEqual(back.width, 40); XCTAssertEqual(back.height, 30); XCTAssertEqual(back.channels, 3)
        let maxDiff = zip(back.pixels, img.pixels).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThan(maxDiff, 12)
        let gray = Image(width: 16, height: 8, channels: 1, pixels: (0..<128).map { UInt8($0 % 16 * 16) })
        try JPEGCodec.write(gray, to: t.path("g.jpg"), quality: 100)
        let g1 = try ImageDecoder.read(t.path("g.jpg"), channels: 1)
        XCTAssertEqual(g1.channels, 1)
        XCTAssertLessThan(zip(g1.pixels, gray.pixels).map { abs(Int($0) - Int($1)) }.max()!, 20)
        // Gray JPEG read as RGB replicates the channel.
        let g3 = try ImageDecoder.read(t.path("g.jpg"), channels: 3)
        XCTAssertEqual(g3.pixels[0], g3.pixels[1]); XCTAssertEqual(g3.pixels[1], g3.pixels[2])
    }

    func testTruncatedAndGarbageJPEGThrowNamingThePath() throws {
        let t = try TempDir()
        // Busy content so that most of the file is scan data; cutting it leaves a valid header.
        let busy = Image(width: 128, height: 128, channels: 3, pixels: (0..<(128 * 128 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })
        try JPEGCodec.write(busy, to: t.path("full.jpg"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: t.path("full.jpg")))
        try bytes.prefix(bytes.count * 3 / 4).write(to: URL(fileURLWithPath: t.path("cut.jpg")))
        XCTAssertThrowsError(try ImageDecoder.read(t.path("cut.jpg"))) { e in
            XCTAssertEqual((e as? ImageError)?.path, t.path("cut.jpg"))
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
        }
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: t.path("junk.jpg")))
        XCTAssertThrowsError(try ImageDecoder.read(t.path("junk.jpg"))) { e in
            XCTAssertTrue("\(e)".hasPrefix(t.path("junk.jpg")), "\(e)")
        }
    }

    func testTIFFRoundTripIsExactForEachCompression() throws {
        let t = try TempDir()
        let img = gradient(33, 17)
        for c in [TIFFCodec.Compression.none, .lzw, .packBits] {
            let p = t.path("a\(c.rawValue).tif")
            try TIFFCodec.write(img, to: p, compression: c)
            XCTAssertEqual(try ImageDecoder.read(p, channels: 3), img)
        }
        let gray = Image(width: 7, height: 5, channels: 1, pixels: (0..<35).map { UInt8($0 * 7) })
        try TIFFCodec.write(gray, to: t.path("g.tiff"))
        XCTAssertEqual(try ImageDecoder.read(t.path("g.tiff"), channels: 1), gray)
        let rgbAsGray = try ImageDecoder.read(t.path("a1.tif"), channels: 1)
        XCTAssertEqual(rgbAsGray.pixels[0], Luma.of(img.pixels[0], img.pixels[1], img.pixels[2]))
    }

    func testCorruptTIFFThrows() throws {
        let t = try TempDir()
        try Data([0x49, 0x49, 0x2A, 0x00, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0]).write(to: URL(fileURLWithPath: t.path("bad.tif")))
        XCTAssertThrowsError(try ImageDecoder.read(t.path("bad.tif"))) { e in
            XCTAssertEqual((e as? ImageError)?.path, t.path("bad.tif"))
        }
        try TIFFCodec.write(gradient(64, 64), to: t.path("full.tif"), compression: .none)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: t.path("full.tif")))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: t.path("cut.tif")))
        XCTAssertThrowsError(try ImageDecoder.read(t.path("cut.tif"))) { e in
            XCTAssertTrue("\(e)".hasPrefix(t.path("cut.tif")), "\(e)")
        }
    }

    func testBMP24BottomUp32AndPaletted8TopDown() throws {
        let t = try TempDir()
        let img = gradient(5, 3) // width 5: 24-bit rows need padding
        let px = { (x: Int, y: Int) in Array(img.pixels[(y * 5 + x) * 3..<(y * 5 + x) * 3 + 3]) }
        try TestBMP.write(width: 5, height: 3, bpp: 24, pixel: px, to: t.path("a.bmp"))
        XCTAssertEqual(try ImageDecoder.read(t.path("a.bmp"), channels: 3), img)
        try TestBMP.write(width: 5, height: 3, bpp: 32, topDown: true, pixel: px, to: t.path("b.bmp"))
        XCTAssertEqual(try ImageDecoder.read(t.path("b.bmp"), channels: 3), img)
        // 8-bit labels 0..3 with a gray palette (GlaS annotations look like this).
        let palette = (0..<4).map { (UInt8($0), UInt8($0), UInt8($0)) }
        try TestBMP.write(width: 3, height: 2, bpp: 8, topDown: true, palette: palette,
                          pixel: { x, y in [UInt8((x + y) % 4)] }, to: t.path("p.bmp"))
        let p = try ImageDecoder.read(t.path("p.bmp"), channels: 1)
        XCTAssertEqual(p.pixels, [0, 1, 2, 1, 2, 3])
        let color = [(UInt8(0), UInt8(0), UInt8(0)), (UInt8(255), UInt8(0), UInt8(0))]
        try TestBMP.write(width: 2, height: 2, bpp: 8, palette: color, pixel: { x, _ in [UInt8(x)] }, to: t.path("c.bmp"))
        XCTAssertEqual(try ImageDecoder.read(t.path("c.bmp"), channels: 3).pixels, [0, 0, 0, 255, 0, 0, 0, 0, 0, 255, 0, 0])
    }

    func testTruncatedBMPThrows() throws {
        let t = try TempDir()
        try TestBMP.write(width: 8, height: 8, bpp: 24, pixel: { _, _ in [1, 2, 3] }, to: t.path("a.bmp"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: t.path("a.bmp")))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: t.path("cut.bmp")))
        XCTAssertThrowsError(try ImageDecoder.read(t.path("cut.bmp"))) { e in
            XCTAssertEqual((e as? ImageError)?.path, t.path("cut.bmp"))
            XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
        }
    }

    func testDispatchIsByMagicBytesNotExtension() throws {
        let t = try TempDir()
        let img = gradient(4, 4)
        try PNGCodec.write(img, to: t.path("really-png.jpg"))
        XCTAssertEqual(try ImageDecoder.format(of: t.path("really-png.jpg")), .png)
        XCTAssertEqual(try ImageDecoder.read(t.path("really-png.jpg")), img)
        try TIFFCodec.write(img, to: t.path("really-tiff.png"))
        XCTAssertEqual(try ImageDecoder.read(t.path("really-tiff.png")), img)
    }

    func testNonImageEmptyMissingAndUnreadableFilesNameThePath() throws {
        let t = try TempDir()
        try t.write("hello, not an image", to: "notes.png")
        XCTAssertThrowsError(try ImageDecoder.read(t.path("notes.png"))) { e in
            XCTAssertEqual((e as? ImageError)?.path, t.path("notes.png"))
            XCTAssertTrue("\(e)".contains("not an image"), "\(e)")
        }
        try t.write("", to: "empty.jpg")
        XCTAssertThrowsError(try ImageDecoder.read(t.path("empty.jpg"))) { e in XCTAssertTrue("\(e)".contains("empty"), "\(e)") }
        XCTAssertThrowsError(try ImageDecoder.read(t.path("missing.png"))) { e in
            XCTAssertTrue("\(e)".contains("missing.png") && "\(e)".contains("no such file"), "\(e)")
        }
        try FileManager.default.createSymbolicLink(atPath: t.path("dangling.png"), withDestinationPath: t.path("gone.png"))
        XCTAssertThrowsError(try ImageDecoder.read(t.path("dangling.png"))) { e in
            XCTAssertTrue("\(e)".contains("dangling.png"), "\(e)")
        }
        try t.mkdir("dir.png")
        XCTAssertThrowsError(try ImageDecoder.read(t.path("dir.png"))) { e in XCTAssertTrue("\(e)".contains("directory"), "\(e)") }
    }
}
