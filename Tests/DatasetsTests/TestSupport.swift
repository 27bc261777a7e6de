import Foundation
import XCTest
@testable import Datasets

/// A temporary folder removed when the test ends.
final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Path of `rel`, creating its parent folders.
    func path(_ rel: String) -> String {
        let p = url.appendingPathComponent(rel)
        try? FileManager.default.createDirectory(at: p.deletingLastPathComponent(), withIntermediateDirectories: true)
        return p.path
    }

    func mkdir(_ rel: String) throws {
        try FileManager.default.createDirectory(at: url.appendingPathComponent(rel), withIntermediateDirectories: true)
    }

    func write(_ text: String, to rel: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(rel)))
    }
}

/// A tiny BMP writer for the tests: 24-bit BGR, 32-bit BGRX, or 8-bit with the given palette.
enum TestBMP {
    static func write(width: Int, height: Int, bpp: Int, topDown: Bool = false, palette: [(UInt8, UInt8, UInt8)] = [],
                      pixel: (Int, Int) -> [UInt8], to path: String) throws {
        let stride = (bpp * width + 31) / 32 * 4
        let paletteBytes = palette.count * 4
        let offset = 14 + 40 + paletteBytes
        var b = [UInt8]()
        func u16(_ v: Int) { b += [UInt8(v & 255), UInt8(v >> 8 & 255)] }
        func u32(_ v: Int) { let u = UInt32(bitPattern: Int32(v)); b += [0, 8, 16, 24].map { UInt8(u >> UInt32($0) & 255) } }
        b += [0x42, 0x4D]; u32(offset + stride * height); u32(0); u32(offset)
        u32(40); u32(width); u32(topDown ? -height : height); u16(1); u16(bpp); u32(0); u32(stride * height)
        u32(2835); u32(2835); u32(palette.count); u32(0)
        for (r, g, bl) in palette { b += [bl, g, r, 0] }
        for row in 0..<height {
            let y = topDown ? row : height - 1 - row
            var line = [UInt8]()
            for x in 0..<width {
                let p = pixel(x, y)
                switch bpp {
                case 8: line.append(p[0])
                case 24: line += [p[2], p[1], p[0]]
                default: line += [p[2], p[1], p[0], 0]
                }
            }
            line += [UInt8](repeating: 0, count: stride - line.count)
            b += line
        }
        try Data(b).write(to: URL(fileURLWithPath: path))
    }
}

/// A smooth RGB test pattern (JPEG-friendly).
func gradient(_ w: Int, _ h: Int) -> Image {
    var px = [UInt8]()
    for y in 0..<h { for x in 0..<w { px += [UInt8(x * 255 / max(1, w - 1)), UInt8(y * 255 / max(1, h - 1)), 128] } }
    return Image(width: w, height: h, channels: 3, pixels: px)
}
