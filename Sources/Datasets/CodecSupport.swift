import CImageCodecs
import Foundation

/// Glue between the C shim (CImageCodecs) and `Image`: error buffers and moving decoded pixels.
enum CodecSupport {
    static let errorLength = 512

    /// Runs a shim call that fills an ic_image; throws ImageError(path, problem) with the shim's message.
    static func decode(path: String, what: String, channels: Int,
                       _ call: (UnsafeMutablePointer<ic_image>, UnsafeMutablePointer<CChar>, Int) -> Int32) throws -> Image {
        precondition(channels == 1 || channels == 3, "channels must be 1 or 3")
        var out = ic_image()
        var err = [CChar](repeating: 0, count: errorLength)
        let rc = err.withUnsafeMutableBufferPointer { call(&out, $0.baseAddress!, errorLength) }
        guard rc == 0, let base = out.pixels else {
            throw ImageError(path: path, problem: "\(what): \(message(err))")
        }
        defer { ic_image_free(&out) }
        let w = Int(out.width), h = Int(out.height), c = Int(out.channels)
        let pixels = [UInt8](UnsafeBufferPointer(start: base, count: w * h * c))
        return Image(width: w, height: h, channels: c, pixels: pixels)
    }

    /// Runs a shim call that writes a file; throws with the shim's message.
    static func encode(path: String, what: String, _ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var err = [CChar](repeating: 0, count: errorLength)
        let rc = err.withUnsafeMutableBufferPointer { call($0.baseAddress!, errorLength) }
        guard rc == 0 else { throw ImageError(path: path, problem: "\(what): \(message(err))") }
    }

    static func message(_ err: [CChar]) -> String {
        let bytes = err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown error" : text
    }
}
