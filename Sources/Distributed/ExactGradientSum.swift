import Network

/// The batch-invariant mode's gradient sum: each sample's gradient (kept apart by the store)
/// is rounded to a fixed-point grid agreed by all ranks for its tensor, the integers are
/// summed (exact, so in any order and over any split), and the sum is turned back into
/// float32 once. The result is the same bits on any number of ranks.
///
/// The grid: with |g| < 2^e over every sample of the global batch (one max all-reduce of the
/// tensors' exponents), a value becomes round(g · 2^k) with k = 62 − ⌈log2 B⌉ − e, so the
/// batch's sum stays below 2^62; the rounding is 2^−(62 − ⌈log2 B⌉) of the tensor's largest
/// value, far below float32's own.
public enum ExactGradientSum {
    public struct NonFiniteGradient: Error, CustomStringConvertible {
        public let parameter: String
        public var description: String { "the gradient of \(parameter) is not finite (NaN or infinity)" }
    }

    /// Adds the global batch's summed gradient to `store.grads` on every rank. `samples`: the
    /// rows of `store.sampleGrads` that are this rank's (0 for an empty shard).
    public static func add(_ store: ParameterStore, samples n: Int, globalBatch: Int, comm: Communicator) throws {
        let params = store.parameters, width = store.count
        var exponents = [Int64](repeating: Int64.min, count: params.count)
        var bad: String?
        store.sampleGrads.withUnsafeBufferPointer { sg in
            for (t, p) in params.enumerated() {
                var largest: Float = 0, finite = true
                for s in 0..<n {
                    let base = sg.baseAddress! + s * width + p.offset
                    for i in 0..<p.count {
                        let a = abs(base[i])
                        finite = finite && a <= .greatestFiniteMagnitude
                        largest = max(largest, a)
                    }
                }
                if !finite && bad == nil { bad = p.name }
                if largest > 0 { exponents[t] = Int64(largest.exponent) + 1 }
            }
        }
        // Every rank takes part in the collectives before any stops, so none is left waiting.
        var failed: [Int64] = [bad == nil ? 0 : 1]
        try comm.allReduceMax(&failed)
        try comm.allReduceMax(&exponents)
        if let bad { throw NonFiniteGradient(parameter: bad) }
        if failed[0] != 0 { throw NonFiniteGradient(parameter: "a parameter on another rank") }
        let headroom = 62 - ceilLog2(globalBatch)
        var sums = [Int64](repeating: 0, count: width)
        store.sampleGrads.withUnsafeBufferPointer { sg in
            sums.withUnsafeMutableBufferPointer { acc in
                for (t, p) in params.enumerated() where exponents[t] != Int64.min {
                    let scale = Double(sign: .plus, exponent: headroom - Int(exponents[t]), significand: 1)
                    for s in 0..<n {
                        let base = sg.baseAddress! + s * width + p.offset
                        for i in 0..<p.count { acc[p.offset + i] += Int64((Double(base[i]) * scale).rounded()) }
                    }
                }
            }
        }
        try comm.allReduceSum(&sums)
        store.grads.withUnsafeMutableBufferPointer { g in
            for (t, p) in params.enumerated() where exponents[t] != Int64.min {
                let unscale = Double(sign: .plus, exponent: Int(exponents[t]) - headroom, significand: 1)
                for i in p.range { g[i] += Float(Double(sums[i]) * unscale) }
            }
        }
    }

    static func ceilLog2(_ n: Int) -> Int {
        var k = 0
        while (1 << k) < n { k += 1 }
        return k
    }
}
