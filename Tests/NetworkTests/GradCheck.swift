@testable import Network

/// Central finite differences for ops over Float32 tensors.
/// The ops compute in Float32, so the probe step cannot be tiny: with eps = 1e-2 and
/// inputs of order 1, truncation error is O(eps²) ≈ 1e-4 and rounding error is about
/// 1e-7·|L|/eps; the loss is a fixed random projection of the output accumulated in
/// Double, so both stay well under the 1e-2 relative tolerance the tests use.
enum GradCheck {
    /// A scalar loss L = Σ out·w with fixed random weights w, and dL/dout = w.
    static func projection(for shape: [Int], seed: UInt64 = 99) -> Tensor {
        var rng = SeededRNG(seed: seed)
        return Tensor.randn(shape, rng: &rng)
    }

    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.count == b.count)
        var s = 0.0
        for i in 0..<a.count { s += Double(a.data[i]) * Double(b.data[i]) }
        return s
    }

    /// Numerical gradient of `loss` with respect to `x`, probing at most `maxProbes`
    /// evenly spread coordinates (all when the tensor is small). Returns (indices, values).
    static func numeric(_ x: Tensor, eps: Float = 1e-2, maxProbes: Int = 64,
                        _ loss: (Tensor) -> Double) -> [(Int, Double)] {
        let n = x.count
        let step = max(1, n / maxProbes)
        var out: [(Int, Double)] = []
        var i = 0
        while i < n {
            var xp = x, xm = x
            xp.data[i] += eps
            xm.data[i] -= eps
            out.append((i, (loss(xp) - loss(xm)) / Double(2 * eps)))
            i += step
        }
        return out
    }

    /// Relative error between analytic and numeric gradients over the probed coordinates:
    /// max |a − n| / max(max |n|, 1e-3).
    static func relativeError(analytic: Tensor, numeric: [(Int, Double)]) -> Double {
        var diff = 0.0, scale = 1e-3
        for (i, v) in numeric {
            diff = max(diff, abs(Double(analytic.data[i]) - v))
            scale = max(scale, abs(v))
        }
        return diff / scale
    }
}
