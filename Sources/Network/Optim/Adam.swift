#if canImport(Glibc)
import Glibc
#endif

/// Adam with PyTorch's semantics (torch.optim.Adam, amsgrad off): weight decay is added to
/// the gradient (L2, not AdamW), bias correction on both moments, eps added after the
/// square root of the corrected second moment. Works on the ParameterStore's flat buffers,
/// so one call updates every parameter; its state is two flat arrays and a step count.
public struct Adam: Codable, Equatable, Sendable {
    public var lr: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    public private(set) var step: Int = 0
    public private(set) var m: [Float]
    public private(set) var v: [Float]

    public init(parameterCount: Int, lr: Float = 3e-4, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 1e-5) {
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores a saved state (a resumed run continues bit for bit).
    public mutating func restore(step: Int, m: [Float], v: [Float]) {
        precondition(m.count == self.m.count && v.count == self.v.count, "Adam.restore: state size mismatch")
        self.step = step
        self.m = m
        self.v = v
    }

    /// One update of `params` from `grads` (same layout). `gradScale` multiplies the
    /// gradient first (1/accumulated micro-batches, or 1/ranks after an all-reduce sum).
    public mutating func update(_ params: inout [Float], grads: [Float], gradScale: Float = 1) {
        precondition(params.count == m.count && grads.count == m.count,
                     "Adam: \(params.count) parameters / \(grads.count) gradients, state for \(m.count)")
        step += 1
        let b1 = beta1, b2 = beta2, wd = weightDecay, e = eps
        let bc1 = 1 - powf(b1, Float(step)), bc2 = 1 - powf(b2, Float(step))
        let stepSize = lr / bc1
        let bc2Sqrt = bc2.squareRoot()
        params.withUnsafeMutableBufferPointer { p in
            grads.withUnsafeBufferPointer { g in
                m.withUnsafeMutableBufferPointer { mm in
                    v.withUnsafeMutableBufferPointer { vv in
                        for i in 0..<p.count {
                            var gi = g[i] * gradScale
                            if wd != 0 { gi += wd * p[i] }
                            mm[i] = b1 * mm[i] + (1 - b1) * gi
                            vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                            let denom = vv[i].squareRoot() / bc2Sqrt + e
                            p[i] -= stepSize * mm[i] / denom
                        }
                    }
                }
            }
        }
    }
}
