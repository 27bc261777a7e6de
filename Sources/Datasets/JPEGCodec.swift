import CImageCodecs
import Foundation

/// JPEG through libjpeg(-turbo), via the setjmp/longjmp-safe shim in CImageCodecs.
public enum JPEGCodec {
    /// Reads a JPEG as gray (channels 1) or RGB (channels 3); libjpeg converts colour spaces.
    public static func read(_ path: String, channels: Int = 3) throws -> Image {
        let data = try FileBytes.read(path)
        return try decode(data, path: path, channels: channels)
    }

    /// Decodes JPEG bytes; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String, channels: Int = 3) throws -> Image {
        try data.withUnsafeBytes { raw in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            return try CodecSupport.decode(path: path, what: "corrupt JPEG", channels: channels) { out, err, len in
                ic_jpeg_decode_memory(base, raw.count, Int32(channels), out, err, len)
            }
        }
    }

    /// Writes an 8-bit gray or RGB JPEG (quality 1–100).
    public static func write(_ image: Image, to path: String, quality: Int = 90) throws {
        precondition(image.channels == 1 || image.channels == 3)
        try image.pixels.withUnsafeBufferPointer { px in
            try CodecSupport.encode(path: path, what: "cannot write JPEG") { err, len in
                ic_jpeg_encode_file(path, px.baseAddress, Int32(image.width), Int32(image.height),
                                    Int32(image.channels), Int32(quality), err, len)
            }
        }
    }
}
