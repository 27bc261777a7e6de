/// One block of SAM's two-way transformer: token self-attention, token→image cross
/// attention, token MLP, image→token cross attention; post-norm after each.
struct TwoWayAttentionBlock {
    let selfAttn, crossT2I, crossI2T: SAMAttention
    let norm1, norm2, norm3, norm4: FrozenLayerNorm
    let mlp: SAMMLPBlock
    let skipFirstLayerPE: Bool

    struct Cache {
        var selfC, t2iC, i2tC: SAMAttention.Cache
        var pre1, pre2, pre3, pre4: Tensor
        var s1, s2, s3, s4: NormStats
        var mlpHidden: Tensor
    }

    init(_ bag: WeightBag, _ p: String, dim: Int, heads: Int, mlpDim: Int, downsample: Int, skipPE: Bool) {
        selfAttn = SAMAttention(bag, p + ".self_attn", dim: dim, heads: heads)
        crossT2I = SAMAttention(bag, p + ".cross_attn_token_to_image", dim: dim, heads: heads, downsample: downsample)
        crossI2T = SAMAttention(bag, p + ".cross_attn_image_to_token", dim: dim, heads: heads, downsample: downsample)
        norm1 = FrozenLayerNorm(bag, p + ".norm1", dim: dim)
        norm2 = FrozenLayerNorm(bag, p + ".norm2", dim: dim)
        norm3 = FrozenLayerNorm(bag, p + ".norm3", dim: dim)
        norm4 = FrozenLayerNorm(bag, p + ".norm4", dim: dim)
        mlp = SAMMLPBlock(bag, p + ".mlp", dim: dim, hidden: mlpDim)
        skipFirstLayerPE = skipPE
    }

    func forward(queries qIn: Tensor, keys kIn: Tensor, queryPE: Tensor, keyPE: Tensor) -> (Tensor, Tensor, Cache) {
        let pre1: Tensor, selfC: SAMAttention.Cache
        if skipFirstLayerPE {
            (pre1, selfC) = selfAttn.forward(q: qIn, k: qIn, v: qIn)
        } else {
            let q = Elementwise.add(qIn, queryPE)
            let (a, c) = selfAttn.forward(q: q, k: q, v: qIn)
            (pre1, selfC) = (Elementwise.add(qIn, a), c)
        }
        let (q1, s1) = norm1.forward(pre1)
        let kWithPE = Elementwise.add(kIn, keyPE)
        let (a2, t2iC) = crossT2I.forward(q: Elementwise.add(q1, queryPE), k: kWithPE, v: kIn)
        let pre2 = Elementwise.add(q1, a2)
        let (q2, s2) = norm2.forward(pre2)
        let (m, hidden) = mlp.forward(q2)
        let pre3 = Elementwise.add(q2, m)
        let (q3, s3) = norm3.forward(pre3)
        let (a4, i2tC) = crossI2T.forward(q: kWithPE, k: Elementwise.add(q3, queryPE), v: q3)
        let pre4 = Elementwise.add(kIn, a4)
        let (k4, s4) = norm4.forward(pre4)
        return (q3, k4, Cache(selfC: selfC, t2iC: t2iC, i2tC: i2tC, pre1: pre1, pre2: pre2, pre3: pre3, pre4: pre4,
                              s1: s1, s2: s2, s3: s3, s4: s4, mlpHidden: hidden))
    }

    /// Gradients of the block's inputs (queries, keys) from its outputs'; the positional
    /// encodings are constants. `needQueryGrad` false skips the self-attention backward.
    func backward(dQueries dq3In: Tensor, dKeys dk4: Tensor, _ c: Cache, needQueryGrad: Bool) -> (Tensor?, Tensor) {
        let dPre4 = norm4.backwardInput(dk4, input: c.pre4, stats: c.s4)
        var dKeys = dPre4
        let g4 = crossI2T.backward(dPre4, c.i2tC)
        Elementwise.addInPlace(&dKeys, g4.dq)
        var dq3 = dq3In
        Elementwise.addInPlace(&dq3, g4.dk)
        Elementwise.addInPlace(&dq3, g4.dv)
        let dPre3 = norm3.backwardInput(dq3, input: c.pre3, stats: c.s3)
        var dq2 = dPre3
        Elementwise.addInPlace(&dq2, mlp.backward(dPre3, preActivation: c.mlpHidden))
        let dPre2 = norm2.backwardInput(dq2, input: c.pre2, stats: c.s2)
        let g2 = crossT2I.backward(dPre2, c.t2iC)
        Elementwise.addInPlace(&dKeys, g2.dk)
        Elementwise.addInPlace(&dKeys, g2.dv)
        guard needQueryGrad else { return (nil, dKeys) }
        var dq1 = dPre2
        Elementwise.addInPlace(&dq1, g2.dq)
        let dPre1 = norm1.backwardInput(dq1, input: c.pre1, stats: c.s1)
        let g1 = selfAttn.backward(dPre1, c.selfC)
        var dq0 = skipFirstLayerPE ? Tensor(zeros: dPre1.shape) : dPre1
        Elementwise.addInPlace(&dq0, g1.dq)
        Elementwise.addInPlace(&dq0, g1.dk)
        Elementwise.addInPlace(&dq0, g1.dv)
        return (dq0, dKeys)
    }
}

/// SAM's two-way transformer (depth 2, dim 256, 8 heads, MLP 2048 in every SAM size).
public struct TwoWayTransformer {
    let layers: [TwoWayAttentionBlock]
    let finalAttn: SAMAttention
    let normFinal: FrozenLayerNorm

    public struct Cache {
        var blocks: [TwoWayAttentionBlock.Cache]
        var finalC: SAMAttention.Cache
        var preFinal: Tensor
        var sFinal: NormStats
    }

    public init(_ bag: WeightBag, _ p: String, depth: Int = 2, dim: Int = 256, heads: Int = 8, mlpDim: Int = 2048, downsample: Int = 2) {
        layers = (0..<depth).map {
            TwoWayAttentionBlock(bag, "\(p).layers.\($0)", dim: dim, heads: heads, mlpDim: mlpDim, downsample: downsample, skipPE: $0 == 0)
        }
        finalAttn = SAMAttention(bag, p + ".final_attn_token_to_image", dim: dim, heads: heads, downsample: downsample)
        normFinal = FrozenLayerNorm(bag, p + ".norm_final_attn", dim: dim)
    }

    /// image [B, HW, C] (already flattened), imagePE [B, HW, C], tokens [B, N, C].
    public func forward(image: Tensor, imagePE: Tensor, tokens: Tensor) -> (queries: Tensor, keys: Tensor, cache: Cache) {
        var q = tokens, k = image
        var caches: [TwoWayAttentionBlock.Cache] = []
        for l in layers {
            let r = l.forward(queries: q, keys: k, queryPE: tokens, keyPE: imagePE)
            q = r.0; k = r.1; caches.append(r.2)
        }
        let (a, fc) = finalAttn.forward(q: Elementwise.add(q, tokens), k: Elementwise.add(k, imagePE), v: k)
        let pre = Elementwise.add(q, a)
        let (qOut, s) = normFinal.forward(pre)
        return (qOut, k, Cache(blocks: caches, finalC: fc, preFinal: pre, sFinal: s))
    }

    /// Gradient with respect to the image input, from the gradients of both outputs.
    public func backwardImage(dQueries: Tensor, dKeys: Tensor, _ c: Cache) -> Tensor {
        let dPre = normFinal.backwardInput(dQueries, input: c.preFinal, stats: c.sFinal)
        let g = finalAttn.backward(dPre, c.finalC)
        var dqFinal = dPre
        Elementwise.addInPlace(&dqFinal, g.dq)
        var dq: Tensor? = dqFinal
        var dk = dKeys
        Elementwise.addInPlace(&dk, g.dk)
        Elementwise.addInPlace(&dk, g.dv)
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            // The first block's query input is the constant prompt tokens: no gradient needed.
            let r = layers[i].backward(dQueries: dq!, dKeys: dk, c.blocks[i], needQueryGrad: i > 0)
            dq = r.0; dk = r.1
        }
        return dk
    }
}
