/// A scaling model of the data-parallel step over a network: the step is its compute (forward,
/// backward, SyncBatchNorm, Adam) plus one all-reduce of the gradient buffer, and a ring
/// all-reduce (reduce-scatter, then all-gather) sends and receives 2(N−1)/N of the buffer on
/// every rank's link. Latency per message and overlap with backward are left out: with a
/// buffer of tens of MB in 4 MB pieces the bandwidth term dominates, and our step does not
/// overlap (the all-reduce follows backward).
public struct RingAllReduceModel: Sendable {
    public let ranks: Int
    public let gradientBytes: Double
    /// The link's rate in bits per second.
    public let linkBitsPerSecond: Double

    public init(ranks: Int, gradientBytes: Double, linkBitsPerSecond: Double) {
        self.ranks = ranks; self.gradientBytes = gradientBytes; self.linkBitsPerSecond = linkBitsPerSecond
    }

    /// Bytes each rank sends (and receives) in one all-reduce.
    public var bytesPerRank: Double { ranks > 1 ? 2 * Double(ranks - 1) / Double(ranks) * gradientBytes : 0 }

    public var allReduceSeconds: Double { bytesPerRank * 8 / linkBitsPerSecond }

    /// The step time for `compute` seconds of everything but the gradient all-reduce.
    public func stepSeconds(compute: Double) -> Double { compute + allReduceSeconds }

    /// The all-reduce's share of that step.
    public func allReduceShare(compute: Double) -> Double {
        let s = stepSeconds(compute: compute)
        return s > 0 ? allReduceSeconds / s : 0
    }

    /// The rate an all-reduce of `seconds` achieved on each link, in bits per second.
    public func achievedBitsPerSecond(allReduceSeconds seconds: Double) -> Double { seconds > 0 ? bytesPerRank * 8 / seconds : 0 }

    /// "1gbit" → 1e9, "10gbit" → 1e10, "500mbit" → 5e8 (tc's units); nil for anything else.
    public static func bitsPerSecond(_ rate: String) -> Double? {
        let units: [(String, Double)] = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3)]
        for (suffix, scale) in units where rate.hasSuffix(suffix) {
            if let v = Double(rate.dropLast(suffix.count)), v > 0 { return v * scale }
        }
        return nil
    }
}
