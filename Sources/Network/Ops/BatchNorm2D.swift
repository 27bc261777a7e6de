/// nn.BatchNorm2d on NCHW, per channel over the M = N·H·W values of that channel.
/// Training normalises with the biased batch variance and updates the running stats as
/// PyTorch does: mean ← (1 − m)·mean + m·μ, var ← (1 − m)·var + m·σ²·M/(M − 1).
/// Evaluation normalises with the running stats.
public enum BatchNorm2D {
    public static func trainForward(_ x: Tensor, gamma: Tensor, beta: Tensor,
                                    runningMean: inout [Float], runningVar: inout [Float],
                                    momentum: Float = 0.1, eps: Float = 1e-5) -> (y: Tensor, stats: NormStats) {
        let (n, c, hw) = check("BatchNorm2D.trainForward", x, gamma, beta)
        precondition(runningMean.count == c && runningVar.count == c,
                     "BatchNorm2D.trainForward: running stats have \(runningMean.count)/\(runningVar.count) values, x \(x.shape) has \(c) channels")
        let m = n * hw
        precondition(m > 1, "BatchNorm2D.trainForward: x \(x.shape) needs more than one value per channel")
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        withPointers(x) { xb in
            for ch in 0..<c {
                var s: Float = 0
                for b in 0..<n { s += sumSIMD(xb + (b * c + ch) * hw, hw) }
                let mu = s / Float(m)
                var ss: Float = 0
                for b in 0..<n {
                    let p = xb + (b * c + ch) * hw
                    for i in 0..<hw { let d = p[i] - mu; ss += d * d }
                }
                let varB = ss / Float(m)
                mean[ch] = mu
                invStd[ch] = 1 / (varB + eps).squareRoot()
                runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mu
                runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * varB * Float(m) / Float(m - 1)
            }
        }
        let stats = NormStats(mean: mean, invStd: invStd)
        return (affine(x, gamma, beta, stats, n, c, hw), stats)
    }

    /// With x̂ = (x − μ)·s: dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·s·(dy − dβ/M − x̂·dγ/M).
    public static func trainBackward(_ dy: Tensor, input x: Tensor, gamma: Tensor,
                                     stats: NormStats) -> (dx: Tensor, dGamma: Tensor, dBeta: Tensor) {
        let (n, c, hw) = check("BatchNorm2D.trainBackward", x, gamma, gamma)
        checkBackward("BatchNorm2D.trainBackward", dy, x, stats.mean, stats.invStd, c)
        let (dG, dB) = reduceGrads(dy, x, stats, n, c, hw)
        let m = Float(n * hw)
        let dx = inputGradient(dy, input: x, gamma: gamma, stats: stats,
                               meanDy: dB.map { $0 / m }, meanDyXhat: dG.map { $0 / m })
        return (dx, Tensor(shape: [c], data: dG), Tensor(shape: [c], data: dB))
    }

    /// dx = γ·s·(dy − mean(dy) − x̂·mean(dy·x̂)) per channel, given those two means (over the
    /// batch, or over every replica's batch for SyncBatchNorm).
    static func inputGradient(_ dy: Tensor, input x: Tensor, gamma: Tensor, stats: NormStats,
                              meanDy: [Float], meanDyXhat: [Float]) -> Tensor {
        let n = x.shape[0], c = x.shape[1], hw = x.count / max(n * c, 1)
        var dx = [Float](repeating: 0, count: x.count)
        withPointers(x, dy, mutating: &dx) { xb, gb, dxb in
            for ch in 0..<c {
                let mu = stats.mean[ch], s = stats.invStd[ch], k = gamma.data[ch] * s
                let mb = meanDy[ch], mgx = meanDyXhat[ch]
                for b in 0..<n {
                    let off = (b * c + ch) * hw
                    let xp = xb + off, gp = gb + off, dp = dxb + off
                    for i in 0..<hw { dp[i] = k * (gp[i] - mb - (xp[i] - mu) * s * mgx) }
                }
            }
        }
        return Tensor(shape: x.shape, data: dx)
    }

    /// A convolution's weight [K, …] and bias (nil: none) with an eval-mode BatchNorm after it
    /// folded in: BN(conv(x) + b) = conv'(x) + b', w' = w·s, b' = β + (b − μ)·s, s = γ/√(σ² + ε).
    public static func foldIntoConvolution(weight w: Tensor, bias b: Tensor?, gamma g: [Float], beta: [Float],
                                           mean: [Float], variance: [Float], eps: Float = 1e-5) -> (weight: Tensor, bias: Tensor) {
        let k = w.shape[0], per = w.count / k
        var fw = w, fb = Tensor(zeros: [k])
        for o in 0..<k {
            let s = g[o] / (variance[o] + eps).squareRoot()
            for i in 0..<per { fw.data[o * per + i] *= s }
            fb.data[o] = beta[o] + ((b?.data[o] ?? 0) - mean[o]) * s
        }
        return (fw, fb)
    }

    public static func evalForward(_ x: Tensor, gamma: Tensor, beta: Tensor,
                                   runningMean: [Float], runningVar: [Float], eps: Float = 1e-5) -> Tensor {
        let (n, c, hw) = check("BatchNorm2D.evalForward", x, gamma, beta)
        precondition(runningMean.count == c && runningVar.count == c,
                     "BatchNorm2D.evalForward: running stats have \(runningMean.count)/\(runningVar.count) values, x \(x.shape) has \(c) channels")
        return affine(x, gamma, beta, runningStats(runningMean, runningVar, eps), n, c, hw)
    }

    /// The running stats are constants here: dx = dy·γ·s, dγ = Σ dy·x̂, dβ = Σ dy.
    public static func evalBackward(_ dy: Tensor, input x: Tensor, gamma: Tensor,
                                    runningMean: [Float], runningVar: [Float],
                                    eps: Float = 1e-5) -> (dx: Tensor, dGamma: Tensor, dBeta: Tensor) {
        let (n, c, hw) = check("BatchNorm2D.evalBackward", x, gamma, gamma)
        checkBackward("BatchNorm2D.evalBackward", dy, x, runningMean, runningVar, c)
        let stats = runningStats(runningMean, runningVar, eps)
        let (dG, dB) = reduceGrads(dy, x, stats, n, c, hw)
        var dx = [Float](repeating: 0, count: x.count)
        withPointers(dy, mutating: &dx) { gb, dxb in
            for b in 0..<n {
                for ch in 0..<c {
                    let off = (b * c + ch) * hw, k = gamma.data[ch] * stats.invStd[ch]
                    for i in 0..<hw { dxb[off + i] = gb[off + i] * k }
                }
            }
        }
        return (Tensor(shape: x.shape, data: dx), Tensor(shape: [c], data: dG), Tensor(shape: [c], data: dB))
    }

    // MARK: - Shared pieces

    private static func runningStats(_ mean: [Float], _ variance: [Float], _ eps: Float) -> NormStats {
        NormStats(mean: mean, invStd: variance.map { 1 / ($0 + eps).squareRoot() })
    }

    /// y = (x − μ[c])·s[c]·γ[c] + β[c], folded into one multiply-add per value.
    private static func affine(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor, _ st: NormStats,
                               _ n: Int, _ c: Int, _ hw: Int) -> Tensor {
        var y = [Float](repeating: 0, count: x.count)
        withPointers(x, mutating: &y) { xb, yb in
            for b in 0..<n {
                for ch in 0..<c {
                    let k = gamma.data[ch] * st.invStd[ch], off = (b * c + ch) * hw
                    let shift = beta.data[ch] - st.mean[ch] * k
                    for i in 0..<hw { yb[off + i] = xb[off + i] * k + shift }
                }
            }
        }
        return Tensor(shape: x.shape, data: y)
    }

    /// (Σ dy·x̂, Σ dy) per channel.
    private static func reduceGrads(_ dy: Tensor, _ x: Tensor, _ st: NormStats,
                                    _ n: Int, _ c: Int, _ hw: Int) -> (dGamma: [Float], dBeta: [Float]) {
        var dG = [Float](repeating: 0, count: c), dB = [Float](repeating: 0, count: c)
        withPointers(x, dy) { xb, gb in
            for ch in 0..<c {
                let mu = st.mean[ch], s = st.invStd[ch]
                var sg: Float = 0, sgx: Float = 0
                for b in 0..<n {
                    let off = (b * c + ch) * hw
                    for i in 0..<hw {
                        let d = gb[off + i]
                        sg += d; sgx += d * (xb[off + i] - mu)
                    }
                }
                dG[ch] = sgx * s; dB[ch] = sg
            }
        }
        return (dG, dB)
    }

    private static func check(_ op: String, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor) -> (n: Int, c: Int, hw: Int) {
        precondition(x.rank == 4 && gamma.shape == [x.shape[1]] && beta.shape == [x.shape[1]],
                     "\(op): x \(x.shape) must be NCHW with gamma \(gamma.shape) and beta \(beta.shape) of shape [C]")
        return (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    }

    private static func checkBackward(_ op: String, _ dy: Tensor, _ x: Tensor, _ a: [Float], _ b: [Float], _ c: Int) {
        precondition(dy.shape == x.shape && a.count == c && b.count == c,
                     "\(op): dy \(dy.shape) must match x \(x.shape), and the saved stats (\(a.count), \(b.count)) its \(c) channels")
    }
}
