import Foundation

/// The image formats the loaders understand, recognised by their first bytes (never the extension).
public enum ImageFormat: String, Sendable, Codable {
    case png, jpeg, tiff, bmp

    /// Recognises a format from a file's leading bytes; nil when none matches.
    public static func sniff(_ head: [UInt8]) -> ImageFormat? {
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if head.starts(with: [0x42, 0x4D]) { return .bmp }
        return nil
    }
}

/// Reads any supported image, dispatching on the file's magic bytes.
public enum ImageDecoder {
    /// The format of the file at `path`; throws ImageError for a missing, unreadable, empty or non-image file.
    public static func format(of path: String) throws -> ImageFormat {
        let head = try FileBytes.prefix(path, count: 8)
        if head.isEmpty { throw ImageError(path: path, problem: "empty file (not an image)") }
        guard let f = ImageFormat.sniff(head) else {
            let hex = head.map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageError(path: path, problem: "not an image: unrecognised header bytes [\(hex)] (PNG, JPEG, TIFF and BMP are supported)")
        }
        return f
    }

    /// Decodes the file as gray (channels 1) or RGB (channels 3).
    public static func read(_ path: String, channels: Int = 3) throws -> Image {
        switch try format(of: path) {
        case .png: return try PNGCodec.read(path, channels: channels)
        case .jpeg: return try JPEGCodec.read(path, channels: channels)
        case .tiff: return try TIFFCodec.read(path, channels: channels)
        case .bmp: return try BMPCodec.read(path, channels: channels)
        }
    }
}
