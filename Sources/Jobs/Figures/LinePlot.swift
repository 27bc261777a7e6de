#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A line chart drawn on a Canvas: axes, tick marks at "nice" values with numeric labels,
/// one polyline (and point markers) per series, a title and a legend.
public struct LinePlot {
    public struct Series {
        public var name: String
        public var color: Canvas.Color
        public var points: [(x: Double, y: Double)]
        public init(name: String, color: Canvas.Color, points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var series: [Series]
    /// Fixed y range (e.g. 0…1 for Dice); nil fits the data.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, series: [Series], yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.series = series
        self.yRange = yRange
    }

    /// Tick values covering lo…hi at a 1/2/5 × 10^k step, about `target` of them.
    public static func ticks(_ lo: Double, _ hi: Double, target: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(target, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var v = (lo / step).rounded(.up) * step
        var out: [Double] = []
        while v <= hi + step * 1e-9 { out.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return out
    }

    static func label(_ v: Double, step: Double) -> String {
        let decimals = step >= 1 ? 0 : min(4, Int(ceil(-log10(step) - 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }

    /// Draws the chart into the rectangle (x, y, w, h) of the canvas.
    public func draw(on c: inout Canvas, x: Int, y: Int, width w: Int, height h: Int) {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var x0 = all.map(\.x).min() ?? 0, x1 = all.map(\.x).max() ?? 1
        if x1 <= x0 { x0 -= 0.5; x1 += 0.5 }
        var y0 = yRange?.lowerBound ?? (all.map(\.y).min() ?? 0), y1 = yRange?.upperBound ?? (all.map(\.y).max() ?? 1)
        if yRange == nil {
            let pad = max((y1 - y0) * 0.08, 1e-3)
            y0 = y0 >= 0 ? max(0, y0 - pad) : y0 - pad
            y1 += pad
        }
        if y1 <= y0 { y1 = y0 + 1 }
        let left = x + 44, right = x + w - 10, top = y + 24, bottom = y + h - 34
        let px = { (v: Double) in Double(left) + (v - x0) / (x1 - x0) * Double(right - left) }
        let py = { (v: Double) in Double(bottom) - (v - y0) / (y1 - y0) * Double(bottom - top) }
        // Title, axes, ticks and labels.
        c.text(title, x: x + (w - BitmapFont.textWidth(title, scale: 2)) / 2, y: y + 4, scale: 2)
        c.line(Double(left), Double(top), Double(left), Double(bottom), color: Canvas.black)
        c.line(Double(left), Double(bottom), Double(right), Double(bottom), color: Canvas.black)
        let yt = Self.ticks(y0, y1)
        let ys = yt.count > 1 ? yt[1] - yt[0] : 1
        for t in yt {
            let yy = py(t)
            c.line(Double(left - 4), yy, Double(left), yy, color: Canvas.black)
            c.line(Double(left + 1), yy, Double(right), yy, color: (230, 230, 230))
            let s = Self.label(t, step: ys)
            c.text(s, x: left - 6 - BitmapFont.textWidth(s), y: Int(yy) - 3)
        }
        let xt = Self.ticks(x0, x1, target: 6).filter { x1 - x0 < 2 || $0 == $0.rounded() }
        let xs = xt.count > 1 ? xt[1] - xt[0] : 1
        for t in xt {
            let xx = px(t)
            c.line(xx, Double(bottom), xx, Double(bottom + 4), color: Canvas.black)
            let s = Self.label(t, step: xs)
            c.text(s, x: Int(xx) - BitmapFont.textWidth(s) / 2, y: bottom + 7)
        }
        c.text(xLabel, x: (left + right - BitmapFont.textWidth(xLabel)) / 2, y: bottom + 20)
        // Series and legend.
        for (k, s) in series.enumerated() {
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            for i in pts.indices.dropFirst() {
                c.line(px(pts[i - 1].x), py(pts[i - 1].y), px(pts[i].x), py(pts[i].y), color: s.color, thickness: 2)
            }
            for p in pts { c.fill(x: Int(px(p.x)) - 2, y: Int(py(p.y)) - 2, width: 5, height: 5, color: s.color) }
            let ly = top + 4 + 12 * k, lx = right - 70
            c.line(Double(lx), Double(ly + 3), Double(lx + 14), Double(ly + 3), color: s.color, thickness: 2)
            c.text(s.name, x: lx + 18, y: ly)
        }
    }
}
