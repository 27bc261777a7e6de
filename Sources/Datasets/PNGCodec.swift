import CImageCodecs
import CPNG

/// PNG through libpng's simplified API (no setjmp/longjmp, so no C shim is needed) for 8-bit
/// files, and the shim's low-level reader for 16-bit ones.
public enum PNGCodec {
    /// Reads a PNG as gray (channels 1) or RGB (channels 3), converting as needed.
    public static func read(_ path: String, channels: Int = 3) throws -> Image {
        precondition(channels == 1 || channels == 3)
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&img, path) != 0 else {
            throw ImageError(path: path, problem: "cannot read PNG: \(message(img))")
        }
        // 16-bit files: the simplified API would gamma-encode them as linear light; decode the
        // samples as stored instead (see png16_codec.c).
        if img.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0 || img.flags & UInt32(PNG_IMAGE_FLAG_16BIT_sRGB) != 0 {
            png_image_free(&img)
            return try CodecSupport.decode(path: path, what: "PNG", channels: channels) { out, err, len in
                ic_png_decode16_file(path, Int32(channels), out, err, len)
            }
        }
        img.format = channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        let w = Int(img.width), h = Int(img.height)
        var pixels = [UInt8](repeating: 0, count: w * h * channels)
        let ok = pixels.withUnsafeMutableBytes { buf in
            png_image_finish_read(&img, nil, buf.baseAddress, Int32(w * channels), nil)
        }
        guard ok != 0 else {
            let m = message(img)
            png_image_free(&img)
            throw ImageError(path: path, problem: "corrupt PNG: \(m)")
        }
        return Image(width: w, height: h, channels: channels, pixels: pixels)
    }

    /// Writes an 8-bit gray or RGB PNG.
    public static func write(_ image: Image, to path: String) throws {
        precondition(image.channels == 1 || image.channels == 3)
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        img.width = UInt32(image.width)
        img.height = UInt32(image.height)
        img.format = image.channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        let ok = image.pixels.withUnsafeBytes { buf in
            png_image_write_to_file(&img, path, 0, buf.baseAddress, Int32(image.width * image.channels), nil)
        }
        guard ok != 0 else {
            throw ImageError(path: path, problem: "cannot write PNG: \(message(img))")
        }
    }

    /// Writes a 16-bit gray or RGB PNG (for tests and tools; training data is read, not written).
    public static func write16(width: Int, height: Int, channels: Int, samples: [UInt16], to path: String) throws {
        precondition((channels == 1 || channels == 3) && samples.count == width * height * channels)
        try samples.withUnsafeBufferPointer { px in
            try CodecSupport.encode(path: path, what: "cannot write PNG") { err, len in
                ic_png_encode16_file(path, px.baseAddress, Int32(width), Int32(height), Int32(channels), err, len)
            }
        }
    }

    private static func message(_ img: png_image) -> String {
        var m = img.message
        return withUnsafeBytes(of: &m) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
