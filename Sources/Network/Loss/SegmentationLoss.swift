#if canImport(Glibc)
import Glibc
#endif

/// BCE + soft Dice on mask logits against a binary target of the same shape [B, 1, H, W].
///
/// `sigmoid` (default): BCE-with-logits (mean over all pixels) + soft Dice on sigmoid
/// probabilities (smooth 1, per sample, mean over the batch). An empty ground truth is
/// reachable (all logits negative), so images without a lesion can be learned.
/// `minMax`: the AutoSAM authors' form — logits min-max normalised per sample to [0, 1]
/// ((x − min)/(max − min + 1e-6)), then BCE + Tversky(α = β = 0.5, smooth 1) = soft Dice.
/// It always predicts some foreground; offered to reproduce the paper.
public enum LossActivation: String, Codable, Sendable, CaseIterable {
    case sigmoid
    case minMax = "minmax"
}

public enum SegmentationLoss {
    public struct Result {
        public var loss: Double
        public var bce: Double
        public var dice: Double
        public var gradient: Tensor   // dLoss/dLogits
    }

    public static func bceDice(logits: Tensor, target: Tensor, activation: LossActivation = .sigmoid) -> Result {
        precondition(logits.shape == target.shape, "SegmentationLoss: logits \(logits.shape) vs target \(target.shape)")
        switch activation {
        case .sigmoid: return sigmoidForm(logits, target)
        case .minMax: return minMaxForm(logits, target)
        }
    }

    static func sigmoidForm(_ x: Tensor, _ t: Tensor) -> Result {
        let b = x.shape[0], per = x.count / b, n = Double(x.count)
        var grad = Tensor(zeros: x.shape)
        var bce = 0.0, dice = 0.0
        x.data.withUnsafeBufferPointer { xs in
            t.data.withUnsafeBufferPointer { ts in
                grad.data.withUnsafeMutableBufferPointer { g in
                    for s in 0..<b {
                        var inter = 0.0, ps = 0.0, gs = 0.0
                        for i in (s * per)..<((s + 1) * per) {
                            let z = Double(xs[i]), y = Double(ts[i])
                            // Stable BCE with logits: max(z,0) − z·y + log(1 + e^{−|z|}).
                            bce += max(z, 0) - z * y + log1p(exp(-abs(z)))
                            let p = 1 / (1 + exp(-z))
                            inter += p * y; ps += p; gs += y
                        }
                        let num = 2 * inter + 1, den = ps + gs + 1
                        dice += 1 - num / den
                        // d(1 − num/den)/dp_i = −(2 y_i·den − num)/den², times dp/dz = p(1 − p), over B.
                        for i in (s * per)..<((s + 1) * per) {
                            let z = Double(xs[i]), y = Double(ts[i])
                            let p = 1 / (1 + exp(-z))
                            let dDice = -(2 * y * den - num) / (den * den) * p * (1 - p) / Double(b)
                            g[i] = Float((p - y) / n + dDice)
                        }
                    }
                }
            }
        }
        bce /= n
        dice /= Double(b)
        return Result(loss: bce + dice, bce: bce, dice: dice, gradient: grad)
    }

    static func minMaxForm(_ x: Tensor, _ t: Tensor) -> Result {
        let b = x.shape[0], per = x.count / b, n = Double(x.count)
        var grad = Tensor(zeros: x.shape)
        var bce = 0.0, dice = 0.0
        let eps = 1e-6
        for s in 0..<b {
            let r = (s * per)..<((s + 1) * per)
            var lo = Double.infinity, hi = -Double.infinity, iLo = r.lowerBound, iHi = r.lowerBound
            for i in r { let v = Double(x.data[i]); if v < lo { lo = v; iLo = i }; if v > hi { hi = v; iHi = i } }
            let range = hi - lo + eps
            var inter = 0.0, ps = 0.0, gs = 0.0
            var dP = [Double](repeating: 0, count: per)
            for i in r {
                // PyTorch's BCELoss clamps log at −100.
                let p = (Double(x.data[i]) - lo) / range, y = Double(t.data[i])
                bce += -(y * max(log(p), -100) + (1 - y) * max(log(1 - p), -100))
                inter += p * y; ps += p; gs += y
            }
            let num = 2 * inter + 1, den = ps + gs + 1
            dice += 1 - num / den
            for i in r {
                let p = (Double(x.data[i]) - lo) / range, y = Double(t.data[i])
                // PyTorch's BCELoss gradient: (p − y) / max(p(1 − p), 1e-12).
                let dBce = (p - y) / max(p * (1 - p), 1e-12) / n
                dP[i - r.lowerBound] = dBce - (2 * y * den - num) / (den * den) / Double(b)
            }
            // The extreme entries map to constants (0 and ≈1) whatever their value, so their own
            // terms carry no gradient (PyTorch forms ±1e12 there and cancels them in float).
            dP[iLo - r.lowerBound] = 0
            dP[iHi - r.lowerBound] = 0
            // p_i = (x_i − lo)/range: ∂p_i/∂x_i = 1/range; the min and max entries also move every p.
            var sumLo = 0.0, sumHi = 0.0
            for i in r {
                let p = (Double(x.data[i]) - lo) / range
                sumHi += dP[i - r.lowerBound] * (-p / range)
                sumLo += dP[i - r.lowerBound] * ((p - 1) / range)
                grad.data[i] = Float(dP[i - r.lowerBound] / range)
            }
            grad.data[iLo] += Float(sumLo)
            grad.data[iHi] += Float(sumHi)
        }
        bce /= n
        dice /= Double(b)
        return Result(loss: bce + dice, bce: bce, dice: dice, gradient: grad)
    }
}
