/// Scaled dot-product attention, as F.scaled_dot_product_attention without mask or dropout:
/// P = softmax(scale·Q·Kᵀ) over keys, out = P·V, per (batch, head).
/// q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] with equal leading dimensions (usually
/// [B, H]); probs [..., Lq, Lk] is returned for the backward pass.
public enum Attention {
    public static func forward(q: Tensor, k: Tensor, v: Tensor, scale: Float? = nil) -> (out: Tensor, probs: Tensor) {
        let d = dims("Attention.forward", q, k, v)
        let s = scale ?? 1 / Float(d.d).squareRoot()
        var probs = [Float](repeating: 0, count: d.batch * d.lq * d.lk)
        var out = [Float](repeating: 0, count: d.batch * d.lq * d.dv)
        withPointers(q, k, v, mutating: &probs, &out) { qb, kb, vb, pb, ob in
            for i in 0..<d.batch {
                let p = pb + i * d.lq * d.lk
                if d.d > 0 {   // scores = scale·Q·Kᵀ, softmax in place
                    sgemm(transB: true, m: d.lq, n: d.lk, k: d.d, alpha: s,
                          a: qb + i * d.lq * d.d, b: kb + i * d.lk * d.d, c: p)
                }
                for r in 0..<d.lq { Softmax.softmaxRow(p + r * d.lk, p + r * d.lk, d.lk) }
                if d.dv > 0 {
                    sgemm(m: d.lq, n: d.dv, k: d.lk, a: p, b: vb + i * d.lk * d.dv, c: ob + i * d.lq * d.dv)
                }
            }
        }
        return (Tensor(shape: d.lead + [d.lq, d.dv], data: out), Tensor(shape: d.lead + [d.lq, d.lk], data: probs))
    }

    /// dV = Pᵀ·dOut, dP = dOut·Vᵀ, dS = softmax-backward(dP, P), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
    public static func backward(_ dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, probs: Tensor,
                                scale: Float? = nil) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let d = dims("Attention.backward", q, k, v)
        precondition(dOut.shape == d.lead + [d.lq, d.dv] && probs.shape == d.lead + [d.lq, d.lk],
                     "Attention.backward: dOut \(dOut.shape) / probs \(probs.shape) do not match q \(q.shape), k \(k.shape), v \(v.shape)")
        let s = scale ?? 1 / Float(d.d).squareRoot()
        var dq = [Float](repeating: 0, count: q.count), dk = [Float](repeating: 0, count: k.count)
        var dv = [Float](repeating: 0, count: v.count)
        var dS = [Float](repeating: 0, count: d.lq * d.lk)   // scratch for one (batch, head)
        withPointers(q, k, v, probs, dOut, mutating: &dq, &dk, &dv, &dS) { qb, kb, vb, pb, gb, dqb, dkb, dvb, ds in
            for i in 0..<d.batch {
                let p = pb + i * d.lq * d.lk, g = gb + i * d.lq * d.dv
                let qi = qb + i * d.lq * d.d, ki = kb + i * d.lk * d.d
                let vi = vb + i * d.lk * d.dv
                if d.dv > 0 && d.lq > 0 {
                    sgemm(transA: true, m: d.lk, n: d.dv, k: d.lq, a: p, b: g, c: dvb + i * d.lk * d.dv)
                    sgemm(transB: true, m: d.lq, n: d.lk, k: d.dv, a: g, b: vi, c: ds)
                } else {
                    ds.update(repeating: 0, count: d.lq * d.lk)
                }
                for r in 0..<d.lq { Softmax.softmaxBackwardRow(ds + r * d.lk, p + r * d.lk, ds + r * d.lk, d.lk) }
                if d.d > 0 && d.lk > 0 && d.lq > 0 {
                    sgemm(m: d.lq, n: d.d, k: d.lk, alpha: s, a: ds, b: ki, c: dqb + i * d.lq * d.d)
                    sgemm(transA: true, m: d.lk, n: d.d, k: d.lq, alpha: s, a: ds, b: qi, c: dkb + i * d.lk * d.d)
                }
            }
        }
        return (Tensor(shape: q.shape, data: dq), Tensor(shape: k.shape, data: dk), Tensor(shape: v.shape, data: dv))
    }

    private static func dims(_ op: String, _ q: Tensor, _ k: Tensor, _ v: Tensor)
        -> (lead: [Int], batch: Int, lq: Int, lk: Int, d: Int, dv: Int) {
        precondition(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank
                     && q.shape.dropLast(2) == k.shape.dropLast(2) && k.shape.dropLast(2) == v.shape.dropLast(2)
                     && q.dim(-1) == k.dim(-1) && k.dim(-2) == v.dim(-2) && k.dim(-2) > 0,
                     "\(op): q \(q.shape), k \(k.shape), v \(v.shape) must be [..., Lq, D], [..., Lk, D], [..., Lk, Dv] with Lk > 0")
        let lead = Array(q.shape.dropLast(2))
        return (lead, lead.reduce(1, *), q.dim(-2), k.dim(-2), q.dim(-1), v.dim(-1))
    }
}
