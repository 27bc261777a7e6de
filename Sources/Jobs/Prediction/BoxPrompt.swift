import Foundation

/// A box prompt in original-image pixel coordinates: x0, y0 (top-left) and x1, y1 (bottom-right).
public struct BoxPrompt: Equatable, Sendable, CustomStringConvertible {
    public var x0: Double, y0: Double, x1: Double, y1: Double

    public init(x0: Double, y0: Double, x1: Double, y1: Double) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
    }

    /// Parses "x0,y0,x1,y1" (numbers; spaces allowed).
    public static func parse(_ text: String) throws -> BoxPrompt {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap(Double.init)
        guard parts.count == 4, values.count == 4, values.allSatisfy(\.isFinite) else {
            throw InferenceError("box \"\(text)\": expected four numbers x0,y0,x1,y1")
        }
        let b = BoxPrompt(x0: values[0], y0: values[1], x1: values[2], y1: values[3])
        guard b.x1 > b.x0 else { throw InferenceError("box \(b): x1 must be greater than x0") }
        guard b.y1 > b.y0 else { throw InferenceError("box \(b): y1 must be greater than y0") }
        return b
    }

    /// Throws unless the box lies inside a width × height image (pixel coordinates 0…width, 0…height).
    public func check(width: Int, height: Int) throws {
        guard x0 >= 0, y0 >= 0, x1 <= Double(width), y1 <= Double(height) else {
            throw InferenceError("box \(self) lies outside the \(width)×\(height) image (allowed 0…\(width), 0…\(height))")
        }
    }

    /// The tight bounding box of a mask's foreground (MedSAM's convention: min and max pixel indices), or nil.
    public static func bounding(width: Int, height: Int, pixels: [UInt8]) -> BoxPrompt? {
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        for y in 0..<height { for x in 0..<width where pixels[y * width + x] != 0 {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
        } }
        guard x1 >= 0 else { return nil }
        return BoxPrompt(x0: Double(x0), y0: Double(y0), x1: Double(x1), y1: Double(y1))
    }

    public var description: String {
        [x0, y0, x1, y1].map { $0 == $0.rounded() ? String(Int($0)) : String($0) }.joined(separator: ",")
    }
}

/// A problem with an inference request (a box, an image, a folder), naming what is wrong.
public struct InferenceError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}
