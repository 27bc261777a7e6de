/// A scaling model of the data-parallel step over a network: the step is its compute (forward,
/// backward, SyncBatchNorm, Adam) plus one all-reduce of the gradient buffer at the rate of the
/// narrower of the link and what the hosts themselves move per second (their TCP stacks and
/// copies: measured unshaped, `hostBitsPerSecond`). Latency per message, TCP's ramp-up and
/// overlap with backward are left out: with buffers of tens of MB the bandwidth term dominates,
/// and the model is of the exchange after backward (overlap can only hide part of it).
public struct AllReduceModel: Sendable {
    public let ranks: Int
    public let gradientBytes: Double
    /// The link's rate in bits per second.
    public let linkBitsPerSecond: Double
    /// What a host's own network path carries per second (infinity: the link alone).
    public let hostBitsPerSecond: Double

    public init(ranks: Int, gradientBytes: Double, linkBitsPerSecond: Double, hostBitsPerSecond: Double = .infinity) {
        self.ranks = ranks; self.gradientBytes = gradientBytes; self.linkBitsPerSecond = linkBitsPerSecond
        self.hostBitsPerSecond = hostBitsPerSecond
    }

    /// The bottleneck: the link, or the hosts where they are slower (the two work at once).
    public var effectiveBitsPerSecond: Double { min(linkBitsPerSecond, hostBitsPerSecond) }

    /// A ring all-reduce (reduce-scatter, then all-gather) sends and receives 2(N−1)/N of the
    /// buffer on every rank's link, all links busy at once: the bandwidth-optimal algorithm.
    public var ringBytesPerRank: Double { ranks > 1 ? 2 * Double(ranks - 1) / Double(ranks) * gradientBytes : 0 }
    public var ringSeconds: Double { ringBytesPerRank * 8 / effectiveBitsPerSecond }

    /// A binomial tree reduce to rank 0, then a binomial broadcast: the whole buffer crosses a
    /// link ⌈log2 N⌉ times each way, one round after another. Open MPI 4.1's non-blocking
    /// MPI_Iallreduce (libnbc) takes it for every in-place call (and below 4 ranks), and the
    /// collective watchdog polls in-place non-blocking all-reduces.
    public var binomialRounds: Int { ranks > 1 ? 2 * Int((Double(ranks)).log2Ceiling) : 0 }
    public var binomialSeconds: Double { Double(binomialRounds) * gradientBytes * 8 / effectiveBitsPerSecond }

    /// The hosts' own rate from a ring all-reduce of this buffer that took `seconds` unshaped.
    public func hostBitsPerSecond(unshapedRingSeconds seconds: Double) -> Double {
        seconds > 0 ? ringBytesPerRank * 8 / seconds : .infinity
    }

    /// The all-reduce's share of a step of `compute` seconds plus `allReduce`.
    public static func share(compute: Double, allReduce: Double) -> Double {
        compute + allReduce > 0 ? allReduce / (compute + allReduce) : 0
    }

    /// The rate per link at which a ring would have had to run to finish in `seconds`.
    public func ringEquivalentBitsPerSecond(allReduceSeconds seconds: Double) -> Double { seconds > 0 ? ringBytesPerRank * 8 / seconds : 0 }

    /// "1gbit" → 1e9, "10gbit" → 1e10, "500mbit" → 5e8 (tc's units); nil for anything else.
    public static func bitsPerSecond(_ rate: String) -> Double? {
        let units: [(String, Double)] = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3)]
        for (suffix, scale) in units where rate.hasSuffix(suffix) {
            if let v = Double(rate.dropLast(suffix.count)), v > 0 { return v * scale }
        }
        return nil
    }
}

extension Double {
    /// ⌈log2 self⌉ for self ≥ 1, exactly for powers of two.
    fileprivate var log2Ceiling: Double {
        var r = 0.0, p = 1.0
        while p < self { p *= 2; r += 1 }
        return r
    }
}
