import CImageCodecs

/// TIFF through libtiff's RGBA interface (8/16-bit, gray/RGB/RGBA/palette, any compression libtiff
/// was built with), with libtiff's stderr warnings silenced by the shim.
public enum TIFFCodec {
    public enum Compression: Int32 { case none = 1, lzw = 5, packBits = 32773 }

    /// Reads a TIFF as gray (channels 1) or RGB (channels 3); alpha is dropped.
    public static func read(_ path: String, channels: Int = 3) throws -> Image {
        try CodecSupport.decode(path: path, what: "TIFF", channels: channels) { out, err, len in
            ic_tiff_decode_file(path, Int32(channels), out, err, len)
        }
    }

    /// Writes an 8-bit gray or RGB TIFF.
    public static func write(_ image: Image, to path: String, compression: Compression = .lzw) throws {
        precondition(image.channels == 1 || image.channels == 3)
        try image.pixels.withUnsafeBufferPointer { px in
            try CodecSupport.encode(path: path, what: "cannot write TIFF") { err, len in
                ic_tiff_encode_file(path, px.baseAddress, Int32(image.width), Int32(image.height),
                                    Int32(image.channels), compression.rawValue, err, len)
            }
        }
    }

    /// Writes a 16-bit gray or RGB TIFF (for tests and tools).
    public static func write16(width: Int, height: Int, channels: Int, samples: [UInt16], to path: String,
                               compression: Compression = .lzw) throws {
        precondition((channels == 1 || channels == 3) && samples.count == width * height * channels)
        try samples.withUnsafeBufferPointer { px in
            try CodecSupport.encode(path: path, what: "cannot write TIFF") { err, len in
                ic_tiff_encode16_file(path, px.baseAddress, Int32(width), Int32(height), Int32(channels), compression.rawValue, err, len)
            }
        }
    }
}
