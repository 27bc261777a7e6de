/// nn.LayerNorm over the last dimension C: y = (x − μ)/sqrt(σ² + eps)·γ + β per row, with
/// the biased variance (two passes: mean, then squared deviations). SIMD8 over C.
public enum LayerNorm {
    public static func forward(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float = 1e-5) -> (y: Tensor, stats: NormStats) {
        let c = check("LayerNorm.forward", x, gamma, beta)
        let rows = x.count / c
        var y = [Float](repeating: 0, count: x.count)
        var mean = [Float](repeating: 0, count: rows), invStd = [Float](repeating: 0, count: rows)
        withPointers(x, gamma, beta, mutating: &y) { xb, g, b, yb in
            for r in 0..<rows {
                let xr = xb + r * c, yr = yb + r * c
                let mu = sumSIMD(xr, c) / Float(c)
                let muV = F8(repeating: mu)
                var acc = F8(repeating: 0)
                var i = 0
                while i + 8 <= c { let d = load8(xr, i) - muV; acc += d * d; i += 8 }
                var ss = acc.sum()
                while i < c { let d = xr[i] - mu; ss += d * d; i += 1 }
                let inv = 1 / (ss / Float(c) + eps).squareRoot()
                mean[r] = mu; invStd[r] = inv
                let invV = F8(repeating: inv)
                i = 0
                while i + 8 <= c {
                    store8((load8(xr, i) - muV) * invV * load8(g, i) + load8(b, i), yr, i); i += 8
                }
                while i < c { yr[i] = (xr[i] - mu) * inv * g[i] + b[i]; i += 1 }
            }
        }
        return (Tensor(shape: x.shape, data: y), NormStats(mean: mean, invStd: invStd))
    }

    /// With x̂ = (x − μ)·s and g = dy·γ: dx = s·(g − mean(g) − x̂·mean(g·x̂)),
    /// dγ = Σ_rows dy·x̂, dβ = Σ_rows dy.
    public static func backward(_ dy: Tensor, input x: Tensor, gamma: Tensor, stats: NormStats) -> (dx: Tensor, dGamma: Tensor, dBeta: Tensor) {
        let c = check("LayerNorm.backward", x, gamma, gamma)
        let rows = x.count / c
        precondition(dy.shape == x.shape && stats.mean.count == rows && stats.invStd.count == rows,
                     "LayerNorm.backward: dy \(dy.shape), x \(x.shape) and \(stats.mean.count) saved rows do not match")
        var dx = [Float](repeating: 0, count: x.count)
        var dG = [Float](repeating: 0, count: c), dB = [Float](repeating: 0, count: c)
        withPointers(x, dy, gamma, mutating: &dx, &dG, &dB) { xb, gb, ga, dxb, dgp, dbp in
            for r in 0..<rows {
                let xr = xb + r * c, gr = gb + r * c
                let dxr = dxb + r * c
                let mu = stats.mean[r], s = stats.invStd[r]
                let muV = F8(repeating: mu), sV = F8(repeating: s)
                var sumG = F8(repeating: 0), sumGX = F8(repeating: 0)
                var i = 0
                while i + 8 <= c {
                    let xh = (load8(xr, i) - muV) * sV, d = load8(gr, i)
                    let g = d * load8(ga, i)
                    sumG += g; sumGX += g * xh
                    store8(load8(dgp, i) + d * xh, dgp, i)
                    store8(load8(dbp, i) + d, dbp, i)
                    i += 8
                }
                var sg = sumG.sum(), sgx = sumGX.sum()
                while i < c {
                    let xh = (xr[i] - mu) * s, d = gr[i], g = d * ga[i]
                    sg += g; sgx += g * xh
                    dgp[i] += d * xh; dbp[i] += d
                    i += 1
                }
                let mg = sg / Float(c), mgx = sgx / Float(c)
                let mgV = F8(repeating: mg), mgxV = F8(repeating: mgx)
                i = 0
                while i + 8 <= c {
                    let xh = (load8(xr, i) - muV) * sV
                    let g = load8(gr, i) * load8(ga, i)
                    store8(sV * (g - mgV - xh * mgxV), dxr, i)
                    i += 8
                }
                while i < c {
                    let xh = (xr[i] - mu) * s
                    dxr[i] = s * (gr[i] * ga[i] - mg - xh * mgx)
                    i += 1
                }
            }
        }
        return (Tensor(shape: x.shape, data: dx), Tensor(shape: [c], data: dG), Tensor(shape: [c], data: dB))
    }

    private static func check(_ op: String, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor) -> Int {
        precondition(x.rank >= 1 && x.dim(-1) > 0 && gamma.shape == [x.dim(-1)] && beta.shape == [x.dim(-1)],
                     "\(op): x \(x.shape) needs gamma \(gamma.shape) and beta \(beta.shape) of shape [last dim]")
        return x.dim(-1)
    }
}
