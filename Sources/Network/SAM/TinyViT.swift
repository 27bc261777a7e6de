/// The TinyViT image encoder of LiteMedSAM (forward only: the encoder is frozen).
/// Every Conv2d+BatchNorm pair is folded at load time. Activations between attention
/// blocks are tokens [B, H·W, C]; convolutions run on NCHW, converted at their boundary.
public struct TinyViTConfig: Sendable {
    public var imageSize = 256
    public var embedDims = [64, 128, 160, 320]
    public var depths = [2, 2, 6, 2]
    public var heads = [2, 4, 5, 10]
    public var windows = [7, 7, 14, 7]
    public var mlpRatio = 4
    public var mbconvExpand = 4
    public var neckDim = 256
    public static let liteMedSAM = TinyViTConfig()
}

struct MBConv {
    let conv1, conv2, conv3: FrozenConv2D
    init(_ bag: WeightBag, _ p: String, dim: Int, expand: Int) {
        let hid = dim * expand
        conv1 = .convBN(bag, p + ".conv1", in: dim, out: hid, kernel: 1)
        conv2 = .convBN(bag, p + ".conv2", in: hid, out: hid, kernel: 3, geometry: .init(padding: 1, groups: hid))
        conv3 = .convBN(bag, p + ".conv3", in: hid, out: dim, kernel: 1)
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv3(GELU.forward(conv2(GELU.forward(conv1(x)))))
        Elementwise.addInPlace(&y, x)
        return GELU.forward(y)
    }
}

struct PatchMerging {
    let conv1, conv2, conv3: FrozenConv2D
    init(_ bag: WeightBag, _ p: String, dim: Int, out: Int) {
        conv1 = .convBN(bag, p + ".conv1", in: dim, out: out, kernel: 1)
        // LiteMedSAM's TinyViT keeps the resolution when merging into 320 (or 448/576) channels.
        let stride = [320, 448, 576].contains(out) ? 1 : 2
        conv2 = .convBN(bag, p + ".conv2", in: out, out: out, kernel: 3, geometry: .init(stride: stride, padding: 1, groups: out))
        conv3 = .convBN(bag, p + ".conv3", in: out, out: out, kernel: 1)
    }
    /// NCHW in, NCHW out.
    func callAsFunction(_ x: Tensor) -> Tensor {
        conv3(GELU.forward(conv2(GELU.forward(conv1(x)))))
    }
}

/// Windowed attention with TinyViT's learned relative-position biases.
struct TinyViTAttention {
    let norm: FrozenLayerNorm
    let qkv, proj: FrozenLinear
    let heads, keyDim: Int
    let bias: Tensor     // [heads, N, N], gathered from attention_biases once at load

    init(_ bag: WeightBag, _ p: String, dim: Int, heads: Int, window: Int) {
        self.heads = heads
        keyDim = dim / heads
        norm = FrozenLayerNorm(bag, p + ".norm", dim: dim)
        qkv = FrozenLinear(bag, p + ".qkv", in: dim, out: 3 * dim)
        proj = FrozenLinear(bag, p + ".proj", in: dim, out: dim)
        // Offsets (|dy|, |dx|) numbered in first-seen order over all point pairs, as TinyViT does.
        let pts = (0..<window).flatMap { i in (0..<window).map { (i, $0) } }
        var ids: [Int] = [], seen: [Int: Int] = [:]
        for a in pts { for b in pts {
            let key = abs(a.0 - b.0) * 10_000 + abs(a.1 - b.1)
            if seen[key] == nil { seen[key] = seen.count }
            ids.append(seen[key]!)
        } }
        let table = bag.take(p + ".attention_biases", [heads, seen.count])
        let n = pts.count
        var g = Tensor(zeros: [heads, n, n])
        for h in 0..<heads { for i in 0..<(n * n) { g.data[h * n * n + i] = table.data[h * seen.count + ids[i]] } }
        bias = g
    }

    /// x [W, N, C] (windows of N tokens) → [W, N, C].
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (w, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        let t = qkv(norm(x))                                 // [W, N, heads·3·kd], per head (q, k, v)
        let per = t.reshaped([w, n, heads, 3 * keyDim])
        let q = Shape.permute(Shape.slice(per, axis: 3, range: 0..<keyDim), [0, 2, 1, 3]).reshaped([w * heads, n, keyDim])
        let k = Shape.permute(Shape.slice(per, axis: 3, range: keyDim..<(2 * keyDim)), [0, 2, 1, 3]).reshaped([w * heads, n, keyDim])
        let v = Shape.permute(Shape.slice(per, axis: 3, range: (2 * keyDim)..<(3 * keyDim)), [0, 2, 1, 3]).reshaped([w * heads, n, keyDim])
        var scores = MatMul.forward(q, k, transB: true, alpha: 1 / Float(keyDim).squareRoot())   // [W·heads, N, N]
        scores.data.withUnsafeMutableBufferPointer { s in
            bias.data.withUnsafeBufferPointer { bb in
                let per = n * n * heads
                for i in 0..<w {
                    let base = s.baseAddress! + i * per
                    for j in 0..<per { base[j] += bb[j] }
                }
            }
        }
        let o = MatMul.forward(Softmax.forward(scores), v)                  // [W·heads, N, kd]
        let merged = Shape.permute(o.reshaped([w, heads, n, keyDim]), [0, 2, 1, 3]).reshaped([w, n, c])
        return proj(merged)
    }
}

struct TinyViTBlock {
    let attn: TinyViTAttention
    let localConv: FrozenConv2D
    let mlpNorm: FrozenLayerNorm
    let fc1, fc2: FrozenLinear
    let window, dim: Int

    init(_ bag: WeightBag, _ p: String, dim: Int, heads: Int, window: Int, mlpRatio: Int) {
        attn = TinyViTAttention(bag, p + ".attn", dim: dim, heads: heads, window: window)
        localConv = .convBN(bag, p + ".local_conv", in: dim, out: dim, kernel: 3, geometry: .init(padding: 1, groups: dim))
        mlpNorm = FrozenLayerNorm(bag, p + ".mlp.norm", dim: dim)
        fc1 = FrozenLinear(bag, p + ".mlp.fc1", in: dim, out: dim * mlpRatio)
        fc2 = FrozenLinear(bag, p + ".mlp.fc2", in: dim * mlpRatio, out: dim)
        self.window = window
        self.dim = dim
    }

    /// x tokens [B, H·W, C] → same.
    func callAsFunction(_ x: Tensor, h: Int, w: Int) -> Tensor {
        let b = x.shape[0], c = dim, ws = window
        let ph = (h + ws - 1) / ws * ws, pw = (w + ws - 1) / ws * ws
        let nh = ph / ws, nw = pw / ws
        // Partition into zero-padded windows [B·nh·nw, ws·ws, C] (padding tokens take part, as in PyTorch).
        var win = Tensor(zeros: [b * nh * nw, ws * ws, c])
        x.data.withUnsafeBufferPointer { src in
            win.data.withUnsafeMutableBufferPointer { dst in
                for bi in 0..<b { for y in 0..<h { for xx in 0..<w {
                    let wi = (bi * nh + y / ws) * nw + xx / ws, ti = (y % ws) * ws + xx % ws
                    (dst.baseAddress! + (wi * ws * ws + ti) * c).update(from: src.baseAddress! + ((bi * h + y) * w + xx) * c, count: c)
                } } }
            }
        }
        let a = attn(win)
        var y = x
        a.data.withUnsafeBufferPointer { src in
            y.data.withUnsafeMutableBufferPointer { dst in
                for bi in 0..<b { for yy in 0..<h { for xx in 0..<w {
                    let wi = (bi * nh + yy / ws) * nw + xx / ws, ti = (yy % ws) * ws + xx % ws
                    let s = src.baseAddress! + (wi * ws * ws + ti) * c, d = dst.baseAddress! + ((bi * h + yy) * w + xx) * c
                    for k in 0..<c { d[k] += s[k] }
                } } }
            }
        }
        let nchw = Shape.permute(y.reshaped([b, h * w, c]), [0, 2, 1]).reshaped([b, c, h, w])
        var t = Shape.permute(localConv(nchw).reshaped([b, c, h * w]), [0, 2, 1])
        let m = fc2(GELU.forward(fc1(mlpNorm(t))))
        Elementwise.addInPlace(&t, m)
        return t
    }
}

public struct TinyViT {
    public let config: TinyViTConfig
    let embed1, embed2: FrozenConv2D
    let stage0: [MBConv]
    let merges: [PatchMerging]
    let stages: [[TinyViTBlock]]
    let neck1, neck2: FrozenConv2D
    let neckNorm1, neckNorm2: FrozenLayerNorm2D

    public init(_ bag: WeightBag, _ p: String = "image_encoder", config: TinyViTConfig = .liteMedSAM) {
        self.config = config
        let d = config.embedDims
        embed1 = .convBN(bag, p + ".patch_embed.seq.0", in: 3, out: d[0] / 2, kernel: 1)
        embed2 = .convBN(bag, p + ".patch_embed.seq.2", in: d[0] / 2, out: d[0], kernel: 1)
        stage0 = (0..<config.depths[0]).map { MBConv(bag, "\(p).layers.0.blocks.\($0)", dim: d[0], expand: config.mbconvExpand) }
        merges = (0..<(d.count - 1)).map { PatchMerging(bag, "\(p).layers.\($0).downsample", dim: d[$0], out: d[$0 + 1]) }
        stages = (1..<d.count).map { s in
            (0..<config.depths[s]).map {
                TinyViTBlock(bag, "\(p).layers.\(s).blocks.\($0)", dim: d[s], heads: config.heads[s], window: config.windows[s], mlpRatio: config.mlpRatio)
            }
        }
        neck1 = FrozenConv2D(bag, p + ".neck.0", in: d.last!, out: config.neckDim, kernel: 1, bias: false)
        neckNorm1 = FrozenLayerNorm2D(bag, p + ".neck.1", channels: config.neckDim)
        neck2 = FrozenConv2D(bag, p + ".neck.2", in: config.neckDim, out: config.neckDim, kernel: 3, geometry: .init(padding: 1), bias: false)
        neckNorm2 = FrozenLayerNorm2D(bag, p + ".neck.3", channels: config.neckDim)
        // TinyViT's classification head is not part of SAM's encoder checkpoints.
    }

    /// Preprocessed images [B, 3, S, S] → embeddings [B, 256, S/4, S/4].
    public func callAsFunction(_ images: Tensor) -> Tensor {
        var x = embed2(GELU.forward(embed1(images)))
        for blk in stage0 { x = blk(x) }
        for s in 0..<stages.count {
            x = merges[s](x)                                     // NCHW
            let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            var t = Shape.permute(x.reshaped([b, c, h * w]), [0, 2, 1])
            for blk in stages[s] { t = blk(t, h: h, w: w) }
            x = Shape.permute(t, [0, 2, 1]).reshaped([b, c, h, w])
        }
        x = neckNorm1(neck1(x))
        return neckNorm2(neck2(x))
    }
}
