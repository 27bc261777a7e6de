/// Sums per-channel batch statistics over the replicas of a data-parallel run, so BatchNorm
/// in train mode normalises with the statistics of the whole global batch (SyncBatchNorm).
/// The tensor core knows no ranks: the trainer injects an implementation.
public protocol BatchStatisticsReducer: AnyObject {
    /// In-place elementwise sum over all replicas (every replica calls it in the same order).
    func sum(_ values: inout [Double]) throws
    /// True when `sumInSampleOrder` adds the global batch's rows in the batch's order (the
    /// batch-invariant mode), so the sums are the same bits however the batch was split.
    var keepsSampleOrder: Bool { get }
    /// `rows`: one row of `width` partial sums per local sample; returns their sum over every
    /// sample of the global batch.
    func sumInSampleOrder(_ rows: [Double], width: Int) throws -> [Double]
}

public extension BatchStatisticsReducer {
    var keepsSampleOrder: Bool { false }
    func sumInSampleOrder(_ rows: [Double], width: Int) throws -> [Double] {
        var total = SyncBatchNorm2D.sumRows(rows, width: width)
        try sum(&total)
        return total
    }
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
        // One row per sample: Σx, Σx² per channel, and the sample's value count.
        let width = 2 * c + 1
        var rows = [Double](repeating: 0, count: n * width)
        withPointers(x) { xb in
            for b in 0..<n {
                for ch in 0..<c {
                    let p = xb + (b * c + ch) * hw
                    var s = 0.0, ss = 0.0
                    for i in 0..<hw { let v = Double(p[i]); s += v; ss += v * v }
                    rows[b * width + ch] = s
                    rows[b * width + c + ch] = ss
                }
                rows[b * width + 2 * c] = Double(hw)
            }
        }
        let sums = try reducer.sumInSampleOrder(rows, width: width)
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

    /// dx = γ·s·(dy − ΣDy/M − x̂·ΣDy·x̂/M) with the sums over all replicas. With
    /// `perSample`, dGamma and dBeta are [n, c]: each sample's share, kept apart.
    public static func trainBackward(_ dy: Tensor, input x: Tensor, gamma: Tensor, stats: NormStats, count m: Int,
                                     reducer: BatchStatisticsReducer,
                                     perSample: Bool = false) throws -> (dx: Tensor, dGamma: Tensor, dBeta: Tensor) {
        let n = x.shape[0], c = x.shape[1], hw = x.count / max(n * c, 1)
        var rows = [Double](repeating: 0, count: n * 2 * c)   // per sample: Σ dy, Σ dy·x̂
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
                    rows[b * 2 * c + ch] = sb
                    rows[b * 2 * c + c + ch] = sg
                }
            }
        }
        let sums = try reducer.sumInSampleOrder(rows, width: 2 * c)
        let mf = Double(m)
        let dx = BatchNorm2D.inputGradient(dy, input: x, gamma: gamma, stats: stats,
                                           meanDy: (0..<c).map { Float(sums[$0] / mf) },
                                           meanDyXhat: (0..<c).map { Float(sums[c + $0] / mf) })
        if perSample {
            var dg = [Float](repeating: 0, count: n * c), db = dg
            for b in 0..<n {
                for ch in 0..<c { db[b * c + ch] = Float(rows[b * 2 * c + ch]); dg[b * c + ch] = Float(rows[b * 2 * c + c + ch]) }
            }
            return (dx, Tensor(shape: [n, c], data: dg), Tensor(shape: [n, c], data: db))
        }
        let local = sumRows(rows, width: 2 * c)
        return (dx,
                Tensor(shape: [c], data: local[c..<(2 * c)].map { Float($0) }),
                Tensor(shape: [c], data: local[0..<c].map { Float($0) }))
    }

    /// Rows of `width` values summed column by column, first row first.
    public static func sumRows(_ rows: [Double], width: Int) -> [Double] {
        var total = [Double](repeating: 0, count: width)
        for r in 0..<(width == 0 ? 0 : rows.count / width) {
            for j in 0..<width { total[j] += rows[r * width + j] }
        }
        return total
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
