/// SAM's attention layer: project q, k, v to an internal width (embedding ÷ downsample),
/// split heads, scaled dot-product attention, recombine, project out.
public struct SAMAttention {
    let qProj, kProj, vProj, outProj: FrozenLinear
    let heads: Int

    public struct Cache {
        var qh, kh, vh, probs: Tensor
        var qShape, kShape: [Int]
    }

    public init(_ bag: WeightBag, _ prefix: String, dim: Int, heads: Int, downsample: Int = 1) {
        let inner = dim / downsample
        qProj = FrozenLinear(bag, prefix + ".q_proj", in: dim, out: inner)
        kProj = FrozenLinear(bag, prefix + ".k_proj", in: dim, out: inner)
        vProj = FrozenLinear(bag, prefix + ".v_proj", in: dim, out: inner)
        outProj = FrozenLinear(bag, prefix + ".out_proj", in: inner, out: dim)
        self.heads = heads
    }

    /// [B, N, H·d] → [B, H, N, d]
    static func separate(_ x: Tensor, heads: Int) -> Tensor {
        let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        return Shape.permute(x.reshaped([b, n, heads, c / heads]), [0, 2, 1, 3])
    }

    /// [B, H, N, d] → [B, N, H·d]
    static func recombine(_ x: Tensor) -> Tensor {
        let (b, h, n, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return Shape.permute(x, [0, 2, 1, 3]).reshaped([b, n, h * d])
    }

    public func forward(q: Tensor, k: Tensor, v: Tensor) -> (Tensor, Cache) {
        let qh = Self.separate(qProj(q), heads: heads)
        let kh = Self.separate(kProj(k), heads: heads)
        let vh = Self.separate(vProj(v), heads: heads)
        let (o, probs) = Attention.forward(q: qh, k: kh, v: vh)
        let y = outProj(Self.recombine(o))
        return (y, Cache(qh: qh, kh: kh, vh: vh, probs: probs, qShape: q.shape, kShape: k.shape))
    }

    public func callAsFunction(q: Tensor, k: Tensor, v: Tensor) -> Tensor { forward(q: q, k: k, v: v).0 }

    /// Gradients with respect to the three inputs.
    public func backward(_ dy: Tensor, _ c: Cache) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let dOut = Self.separate(outProj.backwardInput(dy), heads: heads)
        let g = Attention.backward(dOut, q: c.qh, k: c.kh, v: c.vh, probs: c.probs)
        let dq = qProj.backwardInput(Self.recombine(g.dq))
        let dk = kProj.backwardInput(Self.recombine(g.dk))
        let dv = vProj.backwardInput(Self.recombine(g.dv))
        return (dq, dk, dv)
    }
}

/// lin1 → ReLU → lin2 (the transformer's MLP block).
public struct SAMMLPBlock {
    let lin1, lin2: FrozenLinear
    public init(_ bag: WeightBag, _ prefix: String, dim: Int, hidden: Int) {
        lin1 = FrozenLinear(bag, prefix + ".lin1", in: dim, out: hidden)
        lin2 = FrozenLinear(bag, prefix + ".lin2", in: hidden, out: dim)
    }
    public func forward(_ x: Tensor) -> (Tensor, Tensor) {
        let h = lin1(x)
        return (lin2(ReLU.forward(h)), h)
    }
    public func backward(_ dy: Tensor, preActivation h: Tensor) -> Tensor {
        lin1.backwardInput(ReLU.backward(lin2.backwardInput(dy), input: h))
    }
}

/// The mask decoder's MLP heads: Linear layers with ReLU between them.
public struct SAMHeadMLP {
    let layers: [FrozenLinear]
    public init(_ bag: WeightBag, _ prefix: String, input: Int, hidden: Int, output: Int, depth: Int) {
        var ls: [FrozenLinear] = []
        for i in 0..<depth {
            let inD = i == 0 ? input : hidden, outD = i == depth - 1 ? output : hidden
            ls.append(FrozenLinear(bag, "\(prefix).layers.\(i)", in: inD, out: outD))
        }
        layers = ls
    }
    /// Output and the pre-activations needed by backward.
    public func forward(_ x: Tensor) -> (Tensor, [Tensor]) {
        var h = x, pre: [Tensor] = []
        for (i, l) in layers.enumerated() {
            h = l(h)
            if i < layers.count - 1 { pre.append(h); h = ReLU.forward(h) }
        }
        return (h, pre)
    }
    public func backward(_ dy: Tensor, pre: [Tensor]) -> Tensor {
        var d = dy
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            d = layers[i].backwardInput(d)
            if i > 0 { d = ReLU.backward(d, input: pre[i - 1]) }
        }
        return d
    }
}
