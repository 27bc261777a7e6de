/// A box of pixel indices, both corners inclusive: (x0, y0) the top-left pixel, (x1, y1) the
/// bottom-right one (MedSAM's convention for a mask's box: min and max indices).
public struct PixelBox: Equatable, Sendable, CustomStringConvertible {
    public var x0: Int, y0: Int, x1: Int, y1: Int

    public init(x0: Int, y0: Int, x1: Int, y1: Int) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
    }

    /// Grown by `padding` pixels on every side, clamped to a width × height image (indices 0…width−1, 0…height−1).
    public func padded(by padding: Int, width: Int, height: Int) -> PixelBox {
        PixelBox(x0: max(0, x0 - padding), y0: max(0, y0 - padding),
                 x1: min(width - 1, x1 + padding), y1: min(height - 1, y1 + padding))
    }

    public var description: String { "\(x0),\(y0),\(x1),\(y1)" }
}

/// Connected components of a binary mask (non-zero = foreground), 8-connectivity: pixels that
/// touch at an edge or a corner belong together.
public enum ConnectedComponents {
    /// One component: its pixel count and bounding box.
    public struct Component: Equatable, Sendable {
        public var size: Int
        public var box: PixelBox
    }

    /// Every component, in the raster order of its first (top-most, then left-most) pixel.
    public static func components(_ pixels: [UInt8], width: Int, height: Int) -> [Component] {
        precondition(pixels.count == width * height, "ConnectedComponents: \(pixels.count) pixels for \(width)×\(height)")
        var seen = [Bool](repeating: false, count: pixels.count)
        var stack: [Int] = []
        var out: [Component] = []
        for start in pixels.indices where pixels[start] != 0 && !seen[start] {
            seen[start] = true
            stack.append(start)
            var c = Component(size: 0, box: PixelBox(x0: width, y0: height, x1: -1, y1: -1))
            while let i = stack.popLast() {
                let x = i % width, y = i / width
                c.size += 1
                c.box = PixelBox(x0: min(c.box.x0, x), y0: min(c.box.y0, y), x1: max(c.box.x1, x), y1: max(c.box.y1, y))
                for ny in max(0, y - 1)...min(height - 1, y + 1) {
                    for nx in max(0, x - 1)...min(width - 1, x + 1) {
                        let j = ny * width + nx
                        if pixels[j] != 0 && !seen[j] {
                            seen[j] = true
                            stack.append(j)
                        }
                    }
                }
            }
            out.append(c)
        }
        return out
    }

    /// The component with the most pixels (of equal ones, the first in raster order), or nil for an empty mask.
    public static func largest(_ pixels: [UInt8], width: Int, height: Int) -> Component? {
        var best: Component?
        for c in components(pixels, width: width, height: height) where c.size > (best?.size ?? 0) { best = c }
        return best
    }
}
