/// Batched matrix product C = α·op(A)·op(B), one sgemm per batch entry (transposes are
/// sgemm flags, never copies). A is [..., M, K] ([..., K, M] with transA), B is [..., K, N]
/// ([..., N, K] with transB); the leading (batch) dimensions must be equal, and rank-2
/// inputs give a rank-2 result.
public enum MatMul {
    public static func forward(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false,
                               alpha: Float = 1) -> Tensor {
        let d = dims("MatMul.forward", a, b, transA, transB)
        var c = [Float](repeating: 0, count: d.batch * d.m * d.n)
        if d.m > 0 && d.n > 0 && d.k > 0 {
            withPointers(a, b, mutating: &c) { ab, bb, cb in
                for i in 0..<d.batch {
                    sgemm(transA: transA, transB: transB, m: d.m, n: d.n, k: d.k, alpha: alpha,
                          a: ab + i * d.m * d.k, b: bb + i * d.k * d.n, c: cb + i * d.m * d.n)
                }
            }
        }
        return Tensor(shape: d.lead + [d.m, d.n], data: c)
    }

    /// With G = α·dC: d op(A) = G·op(B)ᵀ and d op(B) = op(A)ᵀ·G, stored back in A's and B's
    /// layouts (transposed once more where the input was transposed).
    public static func backward(_ dc: Tensor, _ a: Tensor, _ b: Tensor, transA: Bool = false,
                                transB: Bool = false, alpha: Float = 1) -> (da: Tensor, db: Tensor) {
        let d = dims("MatMul.backward", a, b, transA, transB)
        precondition(dc.shape == d.lead + [d.m, d.n],
                     "MatMul.backward: dc \(dc.shape) must be \(d.lead + [d.m, d.n]) for a \(a.shape), b \(b.shape)")
        var da = [Float](repeating: 0, count: a.count)
        var db = [Float](repeating: 0, count: b.count)
        let (m, n, k) = (d.m, d.n, d.k)
        if m > 0 && n > 0 && k > 0 {
            withPointers(a, b, dc, mutating: &da, &db) { ab, bb, gb, dab, dbb in
                for i in 0..<d.batch {
                    let pa = ab + i * m * k, pb = bb + i * k * n
                    let pg = gb + i * m * n
                    let pda = dab + i * m * k, pdb = dbb + i * k * n
                    if transA {   // dA [K, M] = op(B)·Gᵀ
                        sgemm(transA: transB, transB: true, m: k, n: m, k: n, alpha: alpha, a: pb, b: pg, c: pda)
                    } else {      // dA [M, K] = G·op(B)ᵀ
                        sgemm(transA: false, transB: !transB, m: m, n: k, k: n, alpha: alpha, a: pg, b: pb, c: pda)
                    }
                    if transB {   // dB [N, K] = Gᵀ·op(A)
                        sgemm(transA: true, transB: transA, m: n, n: k, k: m, alpha: alpha, a: pg, b: pa, c: pdb)
                    } else {      // dB [K, N] = op(A)ᵀ·G
                        sgemm(transA: !transA, transB: false, m: k, n: n, k: m, alpha: alpha, a: pa, b: pg, c: pdb)
                    }
                }
            }
        }
        return (Tensor(shape: a.shape, data: da), Tensor(shape: b.shape, data: db))
    }

    private static func dims(_ op: String, _ a: Tensor, _ b: Tensor, _ transA: Bool, _ transB: Bool)
        -> (lead: [Int], batch: Int, m: Int, n: Int, k: Int) {
        precondition(a.rank >= 2 && a.rank == b.rank && a.shape.dropLast(2) == b.shape.dropLast(2),
                     "\(op): a \(a.shape) and b \(b.shape) need rank ≥ 2 and equal batch dimensions")
        let (m, ka) = transA ? (a.dim(-1), a.dim(-2)) : (a.dim(-2), a.dim(-1))
        let (kb, n) = transB ? (b.dim(-1), b.dim(-2)) : (b.dim(-2), b.dim(-1))
        precondition(ka == kb, "\(op): inner dimensions differ: a \(a.shape) (transA \(transA)), b \(b.shape) (transB \(transB))")
        let lead = Array(a.shape.dropLast(2))
        return (lead, lead.reduce(1, *), m, n, ka)
    }
}
