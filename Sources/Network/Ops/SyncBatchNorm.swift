/// Sums per-channel batch statistics over the replicas of a data-parallel run, so BatchNorm
/// in train mode normalises with the statistics of the whole global batch (SyncBatchNorm).
/// The tensor core knows no ranks: the trainer injects an implementation.
public protocol BatchStatisticsReducer: AnyObject {
    /// In-place elementwise sum over all replicas (every replica calls it in the same order).
    func sum(_ values: inout [Double]) throws
}

/// BatchNorm2D's train mode with statistics summed through a reducer. Local partial sums are
/// formed in Double and reduced, so one replica and many give the same statistics up to the
/// rounding of a Double sum. Parameter gradients returned are this replica's share (they
/// are summed with the other gradients); dx uses the global sums.
public enum SyncBatchNorm2D {
    public static func trainForward(_ x: Tensor, gamma: Tensor, beta: Tensor,
                                    runningMean: inout [Float], runningVar: inout [Float],
                                    reducer: BatchStatisticsReducer,
                                    momentum: Float = 0.1, eps: Float = 1e-5) throws -> (y: Tensor, stats: NormStats, count: Int) {
        let n = x.shape[0], c = x.shape[1], hw = x.count / max(n * c, 1)
        precondition(gamma.count == c && beta.count == c && runningMean.count == c, "SyncBatchNorm2D: x \(x.shape), \(gamma.count) channels")
        var sums = [Double](repeating: 0, count: 2 * c + 1)
        withPointers(x) { xb in
            for b in 0..<n {
                for ch in 0..<c {
                    let p = xb + (b * c + ch) * hw
                    var s = 0.0, ss = 0.0
                    for i in 0..<hw { let v = Double(p[i]); s += v; ss += v * v }
                    sums[ch] += s
                    sums[c + ch] += ss
                }
            }
        }
        sums[2 * c] = Double(n * hw)
        try reducer.sum(&sums)
        let m = sums[2 * c]
        precondition(m > 1, "SyncBatchNorm2D: the global batch has \(Int(m)) value(s) per channel; need more than one")
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let mu = sums[ch] / m
            let v = max(0, sums[c + ch] / m - mu * mu)
            mean[ch] = Float(mu)
            invStd[ch] = Float(1 / (v + Double(eps)).squareRoot())
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * Float(mu)
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * Float(v * m / (m - 1))
        }
        let stats = NormStats(mean: mean, invStd: invStd)
        var y = [Float](repeating: 0, count: x.count)
        withPointers(x, mutating: &y) { xb, yb in
            for b in 0..<n {
                for ch in 0..<c {
                    let k = gamma.data[ch] * invStd[ch], shift = beta.data[ch] - mean[ch] * k, off = (b * c + ch) * hw
                    for i in 0..<hw { yb[off + i] = xb[off + i] * k + shift }
                }
            }
        }
        return (Tensor(shape: x.shape, data: y), stats, Int(m))
    }

    /// dx = γ·s·(dy − ΣDy/M − x̂·ΣDy·x̂/M) with the sums over all replicas.
    public static func trainBackward(_ dy: Tensor, input x: Tensor, gamma: Tensor, stats: NormStats, count m: Int,
                                     reducer: BatchStatisticsReducer) throws -> (dx: Tensor, dGamma: Tensor, dBeta: Tensor) {
        let n = x.shape[0], c = x.shape[1], hw = x.count / max(n * c, 1)
        var sums = [Double](repeating: 0, count: 2 * c)   // Σ dy, Σ dy·x̂ (this replica)
        withPointers(x, dy) { xb, gb in
            for b in 0..<n {
                for ch in 0..<c {
                    let off = (b * c + ch) * hw, mu = stats.mean[ch], s = stats.invStd[ch]
                    var sb = 0.0, sg = 0.0
                    for i in 0..<hw {
                        let g = Double(gb[off + i])
                        sb += g
                        sg += g * Double((xb[off + i] - mu) * s)
                    }
                    sums[ch] += sb
                    sums[c + ch] += sg
                }
            }
        }
        let local = sums
        try reducer.sum(&sums)
        let mf = Double(m)
        let dx = BatchNorm2D.inputGradient(dy, input: x, gamma: gamma, stats: stats,
                                           meanDy: (0..<c).map { Float(sums[$0] / mf) },
                                           meanDyXhat: (0..<c).map { Float(sums[c + $0] / mf) })
        return (dx,
                Tensor(shape: [c], data: local[c..<(2 * c)].map { Float($0) }),
                Tensor(shape: [c], data: local[0..<c].map { Float($0) }))
    }
}

/// A SyncBatchNorm collective failed (a replica is gone or the communicator broke): thrown up
/// through g's forward or backward to the trainer, which reports the rank and ends the run.
public struct SyncBatchNormError: Error, CustomStringConvertible {
    /// The BatchNorm's state-dict name, e.g. `backbone.base.0.norm`.
    public var layer: String
    /// "statistics" (forward) or "gradient" (backward).
    public var phase: String
    public var underlying: any Error

    public var description: String { "SyncBatchNorm \(layer): the \(phase) all-reduce failed: \(underlying)" }
}
