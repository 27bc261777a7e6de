/// Separable resampling of float planes (channel-major, CHW).
///
/// `resize` is PIL's BILINEAR filter, which is what SAM's ResizeLongestSide uses (PIL `Image.resize`) and
/// what torch's `interpolate(mode="bilinear", antialias=True, align_corners=False)` reproduces: a triangle
/// filter whose support widens by the scale factor when shrinking (antialiasing), half-pixel centres, and
/// weights renormalised at the borders. When enlarging it is ordinary bilinear with align_corners=False.
/// Unlike PIL on 8-bit images it keeps floats between the two passes (no intermediate rounding).
public enum Resampler {
    public static func resize(_ src: [Float], channels: Int, width: Int, height: Int,
                              toWidth outW: Int, toHeight outH: Int) -> [Float] {
        precondition(src.count == channels * width * height && outW > 0 && outH > 0)
        if outW == width && outH == height { return src }
        let hx = taps(inSize: width, outSize: outW)
        let hy = taps(inSize: height, outSize: outH)
        // Horizontal pass: C × H × outW.
        var mid = [Float](repeating: 0, count: channels * height * outW)
        for c in 0..<channels {
            for y in 0..<height {
                let row = (c * height + y) * width, orow = (c * height + y) * outW
                for x in 0..<outW {
                    var s: Float = 0
                    let t = hx[x]
                    for k in 0..<t.weights.count { s += src[row + t.start + k] * t.weights[k] }
                    mid[orow + x] = s
                }
            }
        }
        // Vertical pass: C × outH × outW.
        var out = [Float](repeating: 0, count: channels * outH * outW)
        for c in 0..<channels {
            for y in 0..<outH {
                let t = hy[y]
                let orow = (c * outH + y) * outW
                for k in 0..<t.weights.count {
                    let w = t.weights[k], irow = (c * height + t.start + k) * outW
                    for x in 0..<outW { out[orow + x] += mid[irow + x] * w }
                }
            }
        }
        return out
    }

    struct Taps {
        var start: Int
        var weights: [Float]
    }

    /// PIL's precompute_coeffs for the triangle (bilinear) filter, support 1.
    static func taps(inSize: Int, outSize: Int) -> [Taps] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = filterScale
        return (0..<outSize).map { i in
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            var w = (lo..<hi).map { j in max(0, 1 - abs((Double(j) - center + 0.5) / filterScale)) }
            let sum = w.reduce(0, +)
            if sum > 0 { w = w.map { $0 / sum } }
            return Taps(start: lo, weights: w.map(Float.init))
        }
    }
}
