import CKernels
#if canImport(Glibc)
import Glibc
#endif

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
    /// Output rows per strip (the context's `stripRows`).
    let stripRows: Int
    init(_ bag: WeightBag, _ p: String, dim: Int, expand: Int, context: ExecutionContext) {
        let hid = dim * expand
        conv1 = .convBN(bag, p + ".conv1", in: dim, out: hid, kernel: 1, context: context)
        conv2 = .convBN(bag, p + ".conv2", in: hid, out: hid, kernel: 3, geometry: .init(padding: 1, groups: hid), context: context)
        conv3 = .convBN(bag, p + ".conv3", in: hid, out: dim, kernel: 1, context: context)
        stripRows = context.stripRows
    }
    /// GELU(x + conv3(GELU(conv2(GELU(conv1(x)))))), computed in strips of `stripRows` output
    /// rows per image: conv1 (sgemm) + bias + GELU fills a ring of hidden rows (the strip and
    /// one row of halo on each side), the depthwise kernel (+ bias + GELU) turns it into the
    /// strip's hidden output, conv3 (sgemm) writes the strip of y, and bias + residual + GELU
    /// finish it in place. The 4×-wide hidden tensor (670 MB at batch 10, 256²) never exists.
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard conv1.isPointwise, conv2.isDepthwise3x3Same, conv3.isPointwise else {
            var y = try conv3(conv2.forward(conv1.forward(x, gelu: true), gelu: true))
            Elementwise.addInPlace(&y, x)
            FrozenFused.geluInPlace(&y)
            return y
        }
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let hid = conv1.weight.shape[0], hw = h * w
        conv1.backend.noteFusedConvolution(ConvCallShape(input: x.shape, weight: conv1.weight.shape, conv1.geometry))
        conv2.backend.noteFusedConvolution(ConvCallShape(input: [b, hid, h, w], weight: conv2.weight.shape, conv2.geometry))
        conv3.backend.noteFusedConvolution(ConvCallShape(input: [b, hid, h, w], weight: conv3.weight.shape, conv3.geometry))
        let strip = min(h, stripRows), slots = strip + 2
        let ring = UnsafeMutablePointer<Float>.allocate(capacity: hid * slots * w)
        let mid = UnsafeMutablePointer<Float>.allocate(capacity: hid * strip * w)
        defer { ring.deallocate(); mid.deallocate() }
        var y = Tensor(shape: x.shape, data: FrozenFused.uninitialized(x.count))
        withPointers(x, conv1.weight, conv2.weight, conv3.weight, conv1.bias, conv3.bias,
                     mutating: &y) { xb, w1, w2, w3, b1, b3, yb in
            let b2 = conv2.bias?.data ?? [Float](repeating: 0, count: hid)
            for n in 0..<b {
                let xn = xb + n * c * hw, yn = yb + n * c * hw
                // Ring slot j holds hidden row r0 − 1 + j of every channel (channel stride slots·w).
                func fill(rows lo: Int, _ hi: Int, slot: Int) {
                    guard hi > lo else { return }
                    let dst = ring + slot * w
                    sgemm(m: hid, n: (hi - lo) * w, k: c, a: w1, b: xn + lo * w, ldb: hw,
                          c: dst, ldc: slots * w)
                    FrozenFused.biasGELU(dst, ld: slots * w, bias: b1, rows: hid, cols: (hi - lo) * w)
                }
                fill(rows: 0, min(h, strip + 1), slot: 1)
                var r0 = 0
                while r0 < h {
                    let rows = min(strip, h - r0)
                    for ch in 0..<hid {
                        let base = ring + ch * slots * w, wk = w2 + ch * 9
                        let out = mid + ch * rows * w
                        for r in 0..<rows {
                            let g = r0 + r
                            ck_dw3x3_row(g > 0 ? base + r * w : nil, base + (r + 1) * w,
                                         g + 1 < h ? base + (r + 2) * w : nil, wk, b2[ch], out + r * w, w, 1)
                        }
                    }
                    sgemm(m: c, n: rows * w, k: hid, a: w3, b: mid, c: yn + r0 * w, ldc: hw)
                    ck_bias_residual_rows(yn + r0 * w, hw, xn + r0 * w, hw, b3, c, rows * w, 1)
                    r0 += rows
                    guard r0 < h else { break }
                    // Keep rows r0 − 1 and r0 (the old slots rows, rows + 1) as slots 0 and 1.
                    for ch in 0..<hid {
                        let base = ring + ch * slots * w
                        memmove(base, base + rows * w, 2 * w * MemoryLayout<Float>.stride)
                    }
                    fill(rows: r0 + 1, min(h, r0 + min(strip, h - r0) + 1), slot: 2)
                }
            }
        }
        return y
    }
}

struct PatchMerging {
    let conv1, conv2, conv3: FrozenConv2D
    init(_ bag: WeightBag, _ p: String, dim: Int, out: Int, context: ExecutionContext) {
        conv1 = .convBN(bag, p + ".conv1", in: dim, out: out, kernel: 1, context: context)
        // LiteMedSAM's TinyViT keeps the resolution when merging into 320 (or 448/576) channels.
        let stride = [320, 448, 576].contains(out) ? 1 : 2
        conv2 = .convBN(bag, p + ".conv2", in: out, out: out, kernel: 3, geometry: .init(stride: stride, padding: 1, groups: out),
                        context: context)
        conv3 = .convBN(bag, p + ".conv3", in: out, out: out, kernel: 1, context: context)
    }
    /// NCHW in, NCHW out.
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv3.forward(conv2.forward(conv1.forward(x, gelu: true), gelu: true), gelu: false)
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

    /// x [W, N, C] (windows of N tokens) → [W, N, C]. Per window and head, two strided sgemms
    /// read q, k, v straight out of the qkv output (per head [q | k | v], rows 3·C apart) and write
    /// the head's slice of the merged [W, N, C] output: no slicing or permute copies.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (w, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        let t = qkv(norm(x))                                 // [W, N, heads·3·kd], per head (q, k, v)
        let ld = 3 * c, kd = keyDim, scale = 1 / Float(keyDim).squareRoot()
        var merged = Tensor(shape: [w, n, c], data: FrozenFused.uninitialized(w * n * c))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { scores.deallocate() }
        withPointers(t, bias, mutating: &merged) { tb, bb, mb in
            for wi in 0..<w {
                for hd in 0..<heads {
                    let q = tb + wi * n * ld + hd * 3 * kd
                    scores.update(from: bb + hd * n * n, count: n * n)
                    sgemm(transB: true, m: n, n: n, k: kd, alpha: scale, a: q, lda: ld, b: q + kd, ldb: ld,
                          beta: 1, c: scores, ldc: n)
                    for r in 0..<n { Softmax.softmaxRow(scores + r * n, scores + r * n, n) }
                    sgemm(m: n, n: kd, k: n, a: scores, lda: n, b: q + 2 * kd, ldb: ld,
                          c: mb + wi * n * c + hd * kd, ldc: c)
                }
            }
        }
        return proj(merged)
    }
}

struct TinyViTBlock {
    let attn: TinyViTAttention
    let localConv: FrozenConv2D
    let mlpNorm: FrozenLayerNorm
    let fc1, fc2: FrozenLinear
    let window, dim: Int

    init(_ bag: WeightBag, _ p: String, dim: Int, heads: Int, window: Int, mlpRatio: Int, context: ExecutionContext) {
        attn = TinyViTAttention(bag, p + ".attn", dim: dim, heads: heads, window: window)
        localConv = .convBN(bag, p + ".local_conv", in: dim, out: dim, kernel: 3, geometry: .init(padding: 1, groups: dim),
                            context: context)
        mlpNorm = FrozenLayerNorm(bag, p + ".mlp.norm", dim: dim)
        fc1 = FrozenLinear(bag, p + ".mlp.fc1", in: dim, out: dim * mlpRatio)
        fc2 = FrozenLinear(bag, p + ".mlp.fc2", in: dim * mlpRatio, out: dim)
        self.window = window
        self.dim = dim
        let lw = localConv.weight.data
        localW9 = (0..<9).flatMap { t in (0..<dim).map { lw[$0 * 9 + t] } }
    }

    /// local_conv's folded weight as [9 taps, C], for the channels-last depthwise kernel.
    let localW9: [Float]

    /// x tokens [B, H·W, C] → same.
    func callAsFunction(_ x: Tensor, h: Int, w: Int) throws -> Tensor {
        let b = x.shape[0], c = dim, ws = window
        let windows = b * ((h + ws - 1) / ws) * ((w + ws - 1) / ws)
        // Zero-padded windows [B·nh·nw, ws·ws, C] (padding tokens take part, as in PyTorch); y = x + attention.
        let a = attn(Window.partition(x.reshaped([b, h, w, c]), ws).reshaped([windows, ws * ws, c]))
        var y = x.reshaped([b, h, w, c])
        Window.unpartitionAdding(a.reshaped([windows, ws, ws, c]), into: &y)
        // local_conv (depthwise 3×3) straight on the tokens, channels last: no NCHW round trip.
        var t = Tensor(shape: [b, h * w, c], data: FrozenFused.uninitialized(b * h * w * c))
        if localConv.isDepthwise3x3Same {
            withPointers(y, localW9, localConv.bias, mutating: &t) { yp, wp, bp, tp in
                for bi in 0..<b {
                    ck_dw3x3_nhwc(yp + bi * h * w * c, wp, bp, tp + bi * h * w * c, h, w, c)
                }
            }
        } else {
            let nchw = Shape.permute(y.reshaped([b, h * w, c]), [0, 2, 1]).reshaped([b, c, h, w])
            t = Shape.permute(try localConv(nchw).reshaped([b, c, h * w]), [0, 2, 1])
        }
        var hidden = fc1(mlpNorm(t))
        FrozenFused.geluInPlace(&hidden)
        Elementwise.addInPlace(&t, fc2(hidden))
        return t
    }
}

public struct TinyViT {
    public let config: TinyViTConfig
    public let context: ExecutionContext
    let embed1, embed2: FrozenConv2D
    let stage0: [MBConv]
    let merges: [PatchMerging]
    let stages: [[TinyViTBlock]]
    let neck1, neck2: FrozenConv2D
    let neckNorm1, neckNorm2: FrozenLayerNorm2D

    public init(_ bag: WeightBag, _ p: String = "image_encoder", config: TinyViTConfig = .liteMedSAM,
                context: ExecutionContext) {
        self.config = config
        self.context = context
        let d = config.embedDims
        embed1 = .convBN(bag, p + ".patch_embed.seq.0", in: 3, out: d[0] / 2, kernel: 1, context: context)
        embed2 = .convBN(bag, p + ".patch_embed.seq.2", in: d[0] / 2, out: d[0], kernel: 1, context: context)
        stage0 = (0..<config.depths[0]).map {
            MBConv(bag, "\(p).layers.0.blocks.\($0)", dim: d[0], expand: config.mbconvExpand, context: context)
        }
        merges = (0..<(d.count - 1)).map {
            PatchMerging(bag, "\(p).layers.\($0).downsample", dim: d[$0], out: d[$0 + 1], context: context)
        }
        stages = (1..<d.count).map { s in
            (0..<config.depths[s]).map {
                TinyViTBlock(bag, "\(p).layers.\(s).blocks.\($0)", dim: d[s], heads: config.heads[s], window: config.windows[s],
                             mlpRatio: config.mlpRatio, context: context)
            }
        }
        neck1 = FrozenConv2D(bag, p + ".neck.0", in: d.last!, out: config.neckDim, kernel: 1, bias: false, context: context)
        neckNorm1 = FrozenLayerNorm2D(bag, p + ".neck.1", channels: config.neckDim)
        neck2 = FrozenConv2D(bag, p + ".neck.2", in: config.neckDim, out: config.neckDim, kernel: 3, geometry: .init(padding: 1),
                             bias: false, context: context)
        neckNorm2 = FrozenLayerNorm2D(bag, p + ".neck.3", channels: config.neckDim)
        // TinyViT's classification head is not part of SAM's encoder checkpoints.
    }

    /// Preprocessed images [B, 3, S, S] → embeddings [B, 256, S/4, S/4].
    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        var x = try embed2.forward(embed1.forward(images, gelu: true), gelu: false)
        for blk in stage0 { x = try blk(x) }
        for s in 0..<stages.count {
            x = try merges[s](x)                                 // NCHW
            let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            var t = Shape.permute(x.reshaped([b, c, h * w]), [0, 2, 1])
            for blk in stages[s] { t = try blk(t, h: h, w: w) }
            x = Shape.permute(t, [0, 2, 1]).reshaped([b, c, h, w])
        }
        x = try neckNorm1(neck1(x))
        return try neckNorm2(neck2(x))
    }
}
