/// Multi-head attention of SAM's ViT blocks with decomposed relative positions
/// (segment_anything's `Attention` with use_rel_pos, after MViTv2), forward only.
/// Input and output are tokens [B, h, w, C]; one (batch, head) is scored at a time into an
/// [h·w, h·w] scratch buffer, so a global block at 64×64 tokens holds 64 MB, not one
/// probability matrix per head.
struct ViTAttention {
    let qkv, proj: FrozenLinear
    let relPosH, relPosW: Tensor   // [Lh, headDim], [Lw, headDim]
    let heads, dim: Int

    /// `inputSize` is the token grid the relative-position tables were made for (the window,
    /// or the whole grid for a global block); tables are [2·size − 1, C / heads].
    init(_ bag: WeightBag, _ p: String, dim: Int, heads: Int, inputSize: (h: Int, w: Int)) {
        self.dim = dim
        self.heads = heads
        let hd = dim / heads
        qkv = FrozenLinear(bag, p + ".qkv", in: dim, out: 3 * dim)
        proj = FrozenLinear(bag, p + ".proj", in: dim, out: dim)
        relPosH = bag.take(p + ".rel_pos_h", [2 * inputSize.h - 1, hd])
        relPosW = bag.take(p + ".rel_pos_w", [2 * inputSize.w - 1, hd])
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(c == dim, "ViTAttention: input \(x.shape) needs \(dim) channels")
        let n = h * w, hd = c / heads, ld = 3 * c
        let scale = 1 / Float(hd).squareRoot()
        let t = qkv(x)                                         // [B, h, w, 3C]: (q | k | v), each heads × hd
        let rh = RelativePosition.table(q: h, k: h, relPosH)   // [h, h, hd]
        let rw = RelativePosition.table(q: w, k: w, relPosW)   // [w, w, hd]
        var merged = Tensor(zeros: [b, h, w, c])
        var scores = [Float](repeating: 0, count: n * n)
        var relH = [Float](repeating: 0, count: n * h), relW = [Float](repeating: 0, count: n * w)
        withPointers(t, rh, rw, mutating: &merged, &scores, &relH, &relW) { tb, rhb, rwb, ob, s, rH, rW in
            for bi in 0..<b {
                let base = tb + bi * n * ld
                for head in 0..<heads {
                    let q = base + head * hd, k = base + c + head * hd, v = base + 2 * c + head * hd
                    // scores = scale · q·kᵀ
                    sgemm(transB: true, m: n, n: n, k: hd, alpha: scale, a: q, lda: ld, b: k, ldb: ld, c: s)
                    // relH[(y, x), ky] = q[y, x]·Rh[y, ky]   (unscaled q, as the reference)
                    for y in 0..<h {
                        sgemm(transB: true, m: w, n: h, k: hd, a: q + y * w * ld, lda: ld,
                              b: rhb + y * h * hd, c: rH + y * w * h)
                    }
                    // relW[(y, x), kx] = q[y, x]·Rw[x, kx]: rows y of column x are w·ld apart
                    for xx in 0..<w {
                        sgemm(transB: true, m: h, n: w, k: hd, a: q + xx * ld, lda: w * ld,
                              b: rwb + xx * w * hd, c: rW + xx * w, ldc: w * w)
                    }
                    for r in 0..<n {
                        let row = s + r * n, ah = rH + r * h, aw = rW + r * w
                        for ky in 0..<h {
                            let dst = row + ky * w, add = ah[ky]
                            for kx in 0..<w { dst[kx] += add + aw[kx] }
                        }
                        Softmax.softmaxRow(row, row, n)
                    }
                    // out[:, head] = P·v, written straight into the merged [n, C] rows
                    sgemm(m: n, n: hd, k: n, a: s, b: v, ldb: ld, c: ob + bi * n * c + head * hd, ldc: c)
                }
            }
        }
        return proj(merged)
    }
}

/// segment_anything's get_rel_pos: the table of relative-position embeddings for a q_size ×
/// k_size attention map, linearly resized (F.interpolate mode "linear", align_corners False)
/// when the stored table's length is not 2·max(q, k) − 1.
enum RelativePosition {
    /// rel [L, C] → [q, k, C].
    static func table(q qSize: Int, k kSize: Int, _ rel: Tensor) -> Tensor {
        precondition(rel.rank == 2 && rel.shape[0] > 0, "RelativePosition.table: table \(rel.shape) must be [L, C]")
        let len = 2 * max(qSize, kSize) - 1, c = rel.shape[1]
        let resized = rel.shape[0] == len ? rel : resize(rel, to: len)
        let qScale = max(Double(kSize) / Double(qSize), 1), kScale = max(Double(qSize) / Double(kSize), 1)
        var out = Tensor(zeros: [qSize, kSize, c])
        withPointers(resized, mutating: &out) { src, dst in
            for i in 0..<qSize {
                for j in 0..<kSize {
                    // (q_coords − k_coords) + (k − 1)·scale, truncated as .long() does
                    let coord = Double(i) * qScale - Double(j) * kScale + Double(kSize - 1) * kScale
                    let idx = Int(coord)
                    (dst + (i * kSize + j) * c).update(from: src + idx * c, count: c)
                }
            }
        }
        return out
    }

    /// Linear resize of the rows of [L, C] to [n, C] with half-pixel centres (negative source
    /// positions clamp to 0), as F.interpolate(mode="linear", align_corners=False).
    static func resize(_ rel: Tensor, to n: Int) -> Tensor {
        let l = rel.shape[0], c = rel.shape[1]
        let ratio = Double(l) / Double(n)
        var out = Tensor(zeros: [n, c])
        withPointers(rel, mutating: &out) { src, dst in
            for i in 0..<n {
                let pos = max(ratio * (Double(i) + 0.5) - 0.5, 0)
                let i0 = min(Int(pos), l - 1), i1 = min(i0 + 1, l - 1)
                let l1 = Float(pos - Double(i0)), l0 = 1 - l1
                let a = src + i0 * c, b = src + i1 * c, d = dst + i * c
                for j in 0..<c { d[j] = l0 * a[j] + l1 * b[j] }
            }
        }
        return out
    }
}
