import Foundation

/// A small Windows BMP reader (GlaS ships BMP): 1/4/8-bit paletted, 16-bit (5-5-5 or bit fields),
/// 24-bit BGR, 32-bit BGRX or bit fields; bottom-up (positive height) or top-down (negative height).
/// RLE- and JPEG/PNG-compressed BMPs are rejected with an error.
public enum BMPCodec {
    public static func read(_ path: String, channels: Int = 3) throws -> Image {
        let data = try FileBytes.read(path)
        return try decode([UInt8](data), path: path, channels: channels)
    }

    public static func decode(_ b: [UInt8], path: String, channels: Int = 3) throws -> Image {
        precondition(channels == 1 || channels == 3, "channels must be 1 or 3")
        func fail(_ why: String) -> ImageError { ImageError(path: path, problem: "corrupt or unsupported BMP: \(why)") }
        func u16(_ o: Int) throws -> Int {
            guard o + 2 <= b.count else { throw fail("truncated header") }
            return Int(b[o]) | Int(b[o + 1]) << 8
        }
        func u32(_ o: Int) throws -> UInt32 {
            guard o + 4 <= b.count else { throw fail("truncated header") }
            return UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
        }
        guard b.count >= 26, b[0] == 0x42, b[1] == 0x4D else { throw fail("missing BM header") }
        let dataOffset = Int(try u32(10))
        let headerSize = Int(try u32(14))
        var width = 0, height = 0, bpp = 0, compression: UInt32 = 0, colorsUsed = 0, paletteEntry = 4
        if headerSize == 12 {
            width = try u16(18); height = try u16(20); bpp = try u16(24); paletteEntry = 3
        } else if headerSize >= 40 {
            width = Int(Int32(bitPattern: try u32(18)))
            height = Int(Int32(bitPattern: try u32(22)))
            bpp = try u16(28)
            compression = try u32(30)
            colorsUsed = Int(try u32(46))
        } else {
            throw fail("unknown DIB header size \(headerSize)")
        }
        let topDown = height < 0
        height = abs(height)
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else { throw fail("bad size \(width)x\(height)") }

        // Channel masks for 16/32-bit images.
        var masks: (r: UInt32, g: UInt32, b: UInt32)? = nil
        switch (compression, bpp) {
        case (0, 1), (0, 4), (0, 8), (0, 24): break
        case (0, 16): masks = (0x7C00, 0x03E0, 0x001F)
        case (0, 32): masks = (0xFF0000, 0x00FF00, 0x0000FF)
        case (3, 16), (3, 32), (6, 16), (6, 32):
            masks = (try u32(54), try u32(58), try u32(62))
        default:
            throw fail("unsupported compression \(compression) with \(bpp) bits per pixel (RLE/embedded formats are not read)")
        }

        var palette: [(UInt8, UInt8, UInt8)] = []
        if bpp <= 8 {
            let n = colorsUsed > 0 ? min(colorsUsed, 1 << bpp) : 1 << bpp
            var at = 14 + headerSize
            if compression == 3 || compression == 6, headerSize == 40 { at += compression == 3 ? 12 : 16 }
            for _ in 0..<n {
                guard at + 3 <= b.count else { throw fail("truncated palette") }
                palette.append((b[at + 2], b[at + 1], b[at]))
                at += paletteEntry
            }
        }

        let stride = (bpp * width + 31) / 32 * 4
        guard dataOffset >= 14 + headerSize, dataOffset + stride * height <= b.count else {
            throw fail("truncated pixel data (needs \(stride * height) bytes at offset \(dataOffset), file has \(b.count))")
        }
        func extract(_ v: UInt32, _ m: UInt32) -> UInt8 {
            guard m != 0 else { return 0 }
            let shift = m.trailingZeroBitCount
            let maxv = m >> shift
            return UInt8((UInt64(v & m) >> UInt64(shift)) * 255 / UInt64(maxv))
        }
        var out = [UInt8](repeating: 0, count: width * height * channels)
        for row in 0..<height {
            let y = topDown ? row : height - 1 - row
            let base = dataOffset + row * stride
            for x in 0..<width {
                var r: UInt8, g: UInt8, bl: UInt8
                switch bpp {
                case 1, 4, 8:
                    let bit = x * bpp
                    let byte = b[base + bit / 8]
                    let index = Int(byte >> UInt8(8 - bpp - bit % 8)) & ((1 << bpp) - 1)
                    guard index < palette.count else { throw fail("palette index \(index) out of range") }
                    (r, g, bl) = palette[index]
                case 24:
                    let o = base + 3 * x
                    (r, g, bl) = (b[o + 2], b[o + 1], b[o])
                case 16:
                    let o = base + 2 * x
                    let v = UInt32(b[o]) | UInt32(b[o + 1]) << 8
                    (r, g, bl) = (extract(v, masks!.r), extract(v, masks!.g), extract(v, masks!.b))
                default:
                    let o = base + 4 * x
                    let v = UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
                    (r, g, bl) = (extract(v, masks!.r), extract(v, masks!.g), extract(v, masks!.b))
                }
                let p = (y * width + x) * channels
                if channels == 3 {
                    out[p] = r; out[p + 1] = g; out[p + 2] = bl
                } else {
                    out[p] = Luma.of(r, g, bl)
                }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: out)
    }
}

/// ITU-R 601 luma (the weights PIL's convert('L') and libjpeg use), rounded.
enum Luma {
    @inline(__always)
    static func of(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let sum: Int = Int(r) * 299 + Int(g) * 587 + Int(b) * 114 + 500
        return UInt8(sum / 1000)
    }
}
