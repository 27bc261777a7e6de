/// Fills polygons into a pixel grid.
///
/// Convention: pixel (x, y) covers the square [x, x+1) × [y, y+1) of the annotation's coordinate
/// space and is inside a polygon when its centre (x + 0.5, y + 0.5) is, by the even-odd rule; on a
/// scanline the span [xa, xb) between crossings is half-open, so polygons that share an edge (touching
/// nuclei) never claim the same pixel, and an axis-aligned rectangle with integer corners covers exactly
/// its area. Parts outside the image are clipped.
public enum PolygonRasterizer {
    public typealias Point = (x: Double, y: Double)

    /// Calls `set(index)` (index = y * width + x) for every pixel inside `polygon`.
    public static func fill(_ polygon: [Point], width: Int, height: Int, _ set: (Int) -> Void) {
        guard polygon.count >= 3, width > 0, height > 0 else { return }
        let ys = polygon.map(\.y)
        let yLo = max(0, Int((ys.min()! - 0.5).rounded(.up)))
        let yHi = min(height - 1, Int((ys.max()! - 0.5).rounded(.down)))
        guard yLo <= yHi else { return }
        var crossings: [Double] = []
        for y in yLo...yHi {
            let yc = Double(y) + 0.5
            crossings.removeAll(keepingCapacity: true)
            var j = polygon.count - 1
            for i in 0..<polygon.count {
                let a = polygon[j], b = polygon[i]
                if (a.y <= yc) != (b.y <= yc) {
                    crossings.append(a.x + (yc - a.y) * (b.x - a.x) / (b.y - a.y))
                }
                j = i
            }
            crossings.sort()
            var k = 0
            while k + 1 < crossings.count {
                // Pixels whose centre x + 0.5 lies in [xa, xb).
                let x0 = max(0, Int((crossings[k] - 0.5).rounded(.up)))
                let x1 = min(width, Int((crossings[k + 1] - 0.5).rounded(.up)))
                if x0 < x1 { for x in x0..<x1 { set(y * width + x) } }
                k += 2
            }
        }
    }

    /// An instance map with polygon i labelled i + 1 (a later polygon wins where two overlap).
    public static func instances(_ polygons: [[Point]], width: Int, height: Int) -> InstanceMap {
        var labels = [Int32](repeating: 0, count: width * height)
        for (i, poly) in polygons.enumerated() {
            let label = Int32(i + 1)
            fill(poly, width: width, height: height) { labels[$0] = label }
        }
        return InstanceMap(width: width, height: height, labels: labels)
    }
}
