import Datasets

/// An RGB raster for figures: filled rectangles, thick lines, scaled image blits and text in
/// a built-in 5×7 bitmap font. Coordinates are pixels, origin top-left; drawing clips.
public struct Canvas {
    public let width: Int
    public let height: Int
    public private(set) var pixels: [UInt8]

    public typealias Color = (r: UInt8, g: UInt8, b: UInt8)
    public static let white: Color = (255, 255, 255), black: Color = (0, 0, 0), gray: Color = (160, 160, 160)

    public init(width: Int, height: Int, background: Color = Canvas.white) {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, color: background)
    }

    public var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels) }

    public mutating func set(_ x: Int, _ y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: Color) {
        for yy in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for xx in max(0, x)..<max(max(0, x), min(width, x + w)) { set(xx, yy, color) }
        }
    }

    /// A line of the given thickness (a square brush stepped along the longer axis).
    public mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, color: Color, thickness: Int = 1) {
        let steps = max(1, Int(max(abs(x1 - x0), abs(y1 - y0)).rounded(.up)))
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        for s in 0...steps {
            let t = Double(s) / Double(steps)
            let x = Int((x0 + (x1 - x0) * t).rounded()), y = Int((y0 + (y1 - y0) * t).rounded())
            for dy in lo...hi { for dx in lo...hi { set(x + dx, y + dy, color) } }
        }
    }

    /// Draws `image` (gray or RGB) scaled to w × h at (x, y): nearest neighbour, which keeps
    /// binary masks binary.
    public mutating func blit(_ image: Image, x: Int, y: Int, width w: Int, height h: Int) {
        for yy in 0..<h {
            let sy = min(image.height - 1, yy * image.height / h)
            for xx in 0..<w {
                let sx = min(image.width - 1, xx * image.width / w)
                let i = (sy * image.width + sx) * image.channels
                let c: Color = image.channels >= 3 ? (image.pixels[i], image.pixels[i + 1], image.pixels[i + 2])
                                                    : (image.pixels[i], image.pixels[i], image.pixels[i])
                set(x + xx, y + yy, c)
            }
        }
    }

    /// Text in the 5×7 font at (x, y) (top-left), each font pixel drawn as scale × scale.
    public mutating func text(_ s: String, x: Int, y: Int, scale: Int = 1, color: Color = Canvas.black) {
        var cx = x
        for ch in s {
            if let rows = BitmapFont.glyph(ch) {
                for (ry, row) in rows.enumerated() {
                    for (rx, bit) in row.enumerated() where bit == "#" {
                        fill(x: cx + rx * scale, y: y + ry * scale, width: scale, height: scale, color: color)
                    }
                }
            }
            cx += BitmapFont.advance * scale
        }
    }
}
