/// SAM's LayerNorm2d: NCHW, each pixel (n, h, w) normalised over its C channels with the
/// biased variance, then y = γ[c]·x̂ + β[c]. Stats are indexed n·H·W + h·W + w.
/// Loops run channel by channel over a contiguous H·W plane, so they vectorise over pixels.
public enum LayerNorm2D {
    public static func forward(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float = 1e-6) -> (y: Tensor, stats: NormStats) {
        let (n, c, hw) = check("LayerNorm2D.forward", x, gamma, beta)
        var y = [Float](repeating: 0, count: x.count)
        var mean = [Float](repeating: 0, count: n * hw), invStd = [Float](repeating: 0, count: n * hw)
        withPointers(x, mutating: &y, &mean, &invStd) { xb, yb, mb, sb in
            for b in 0..<n {
                let mu = mb + b * hw, s = sb + b * hw
                let xs = xb + b * c * hw, ys = yb + b * c * hw
                for ch in 0..<c { accumulate(mu, xs + ch * hw, hw) }
                scale(mu, hw, 1 / Float(c))
                // s temporarily holds Σ (x − μ)²
                for ch in 0..<c {
                    let xp = xs + ch * hw
                    for i in 0..<hw { let d = xp[i] - mu[i]; s[i] += d * d }
                }
                for i in 0..<hw { s[i] = 1 / (s[i] / Float(c) + eps).squareRoot() }
                for ch in 0..<c {
                    let xp = xs + ch * hw, yp = ys + ch * hw
                    let g = gamma.data[ch], be = beta.data[ch]
                    for i in 0..<hw { yp[i] = (xp[i] - mu[i]) * s[i] * g + be }
                }
            }
        }
        return (Tensor(shape: x.shape, data: y), NormStats(mean: mean, invStd: invStd))
    }

    /// Per pixel, with x̂ = (x − μ)·s and g = dy·γ: dx = s·(g − mean_c(g) − x̂·mean_c(g·x̂));
    /// dγ[c] = Σ dy·x̂ and dβ[c] = Σ dy over n, h, w.
    public static func backward(_ dy: Tensor, input x: Tensor, gamma: Tensor, stats: NormStats) -> (dx: Tensor, dGamma: Tensor, dBeta: Tensor) {
        let (n, c, hw) = check("LayerNorm2D.backward", x, gamma, gamma)
        precondition(dy.shape == x.shape && stats.mean.count == n * hw && stats.invStd.count == n * hw,
                     "LayerNorm2D.backward: dy \(dy.shape), x \(x.shape) and \(stats.mean.count) saved pixels do not match")
        var dx = [Float](repeating: 0, count: x.count)
        var dG = [Float](repeating: 0, count: c), dB = [Float](repeating: 0, count: c)
        var mg = [Float](repeating: 0, count: hw), mgx = [Float](repeating: 0, count: hw)
        withPointers(x, dy, stats.mean, stats.invStd, mutating: &dx, &mg, &mgx) { xb, gb, mb, sb, dxb, sumG, sumGX in
            for b in 0..<n {
                let mu = mb + b * hw, s = sb + b * hw
                sumG.update(repeating: 0, count: hw)
                sumGX.update(repeating: 0, count: hw)
                for ch in 0..<c {
                    let off = (b * c + ch) * hw
                    let xp = xb + off, gp = gb + off
                    let ga = gamma.data[ch]
                    var dg: Float = 0, db: Float = 0
                    for i in 0..<hw {
                        let xh = (xp[i] - mu[i]) * s[i], d = gp[i]
                        sumG[i] += d * ga; sumGX[i] += d * ga * xh
                        dg += d * xh; db += d
                    }
                    dG[ch] += dg; dB[ch] += db
                }
                let invC = 1 / Float(c)
                for ch in 0..<c {
                    let off = (b * c + ch) * hw
                    let xp = xb + off, gp = gb + off
                    let dxp = dxb + off
                    let ga = gamma.data[ch]
                    for i in 0..<hw {
                        let xh = (xp[i] - mu[i]) * s[i]
                        dxp[i] = s[i] * (gp[i] * ga - sumG[i] * invC - xh * sumGX[i] * invC)
                    }
                }
            }
        }
        return (Tensor(shape: x.shape, data: dx), Tensor(shape: [c], data: dG), Tensor(shape: [c], data: dB))
    }

    @inline(__always)
    private static func accumulate(_ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { acc[i] += x[i] }
    }

    @inline(__always)
    private static func scale(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
        for i in 0..<n { p[i] *= s }
    }

    private static func check(_ op: String, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor) -> (n: Int, c: Int, hw: Int) {
        precondition(x.rank == 4 && x.shape[1] > 0 && gamma.shape == [x.shape[1]] && beta.shape == [x.shape[1]],
                     "\(op): x \(x.shape) must be NCHW with gamma \(gamma.shape) and beta \(beta.shape) of shape [C]")
        return (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    }
}
