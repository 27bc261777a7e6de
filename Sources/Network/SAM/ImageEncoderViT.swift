/// SAM's ViT image encoder (segment_anything's `ImageEncoderViT`), forward only: patch
/// embedding, absolute position embedding, transformer blocks with windowed or global
/// attention and decomposed relative positions, and the convolutional neck. Tokens stay
/// [B, H, W, C] between blocks, as in the reference.
public struct ViTConfig: Sendable, Equatable {
    public var imageSize = 1024
    public var patchSize = 16
    public var embedDim = 768
    public var depth = 12
    public var heads = 12
    public var globalAttnIndexes = [2, 5, 8, 11]
    public var windowSize = 14
    public var mlpRatio = 4
    public var outChans = 256
    public var layerNormEps: Float = 1e-6

    public init(imageSize: Int = 1024, patchSize: Int = 16, embedDim: Int = 768, depth: Int = 12, heads: Int = 12,
                globalAttnIndexes: [Int] = [2, 5, 8, 11], windowSize: Int = 14, mlpRatio: Int = 4, outChans: Int = 256) {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.embedDim = embedDim
        self.depth = depth
        self.heads = heads
        self.globalAttnIndexes = globalAttnIndexes
        self.windowSize = windowSize
        self.mlpRatio = mlpRatio
        self.outChans = outChans
    }

    /// Side of the token grid (and of the image embedding).
    public var gridSize: Int { imageSize / patchSize }

    /// segment_anything's build_sam_vit_b / _l / _h.
    public static let vitB = ViTConfig()
    public static let vitL = ViTConfig(embedDim: 1024, depth: 24, heads: 16, globalAttnIndexes: [5, 11, 17, 23])
    public static let vitH = ViTConfig(embedDim: 1280, depth: 32, heads: 16, globalAttnIndexes: [7, 15, 23, 31])

    public static func forKind(_ kind: SAMKind) -> ViTConfig? {
        switch kind {
        case .vitB: return .vitB
        case .vitL: return .vitL
        case .vitH: return .vitH
        case .liteMedSAM: return nil
        }
    }
}

struct ViTBlock {
    let norm1, norm2: FrozenLayerNorm
    let attn: ViTAttention
    let fc1, fc2: FrozenLinear
    let window: Int   // 0: global attention

    init(_ bag: WeightBag, _ p: String, config: ViTConfig, window: Int) {
        let d = config.embedDim, grid = config.gridSize
        norm1 = FrozenLayerNorm(bag, p + ".norm1", dim: d, eps: config.layerNormEps)
        norm2 = FrozenLayerNorm(bag, p + ".norm2", dim: d, eps: config.layerNormEps)
        let size = window > 0 ? (window, window) : (grid, grid)
        attn = ViTAttention(bag, p + ".attn", dim: d, heads: config.heads, inputSize: size)
        fc1 = FrozenLinear(bag, p + ".mlp.lin1", in: d, out: d * config.mlpRatio)
        fc2 = FrozenLinear(bag, p + ".mlp.lin2", in: d * config.mlpRatio, out: d)
        self.window = window
    }

    /// x [B, H, W, C] → same.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let n = norm1(x)
        var y: Tensor
        if window > 0 {
            y = x
            Window.unpartitionAdding(attn(Window.partition(n, window)), into: &y)
        } else {
            y = attn(n)
            Elementwise.addInPlace(&y, x)
        }
        let m = fc2(GELU.forward(fc1(norm2(y))))
        Elementwise.addInPlace(&y, m)
        return y
    }
}

/// window_partition / window_unpartition: [B, H, W, C] ↔ zero-padded windows
/// [B·nh·nw, ws, ws, C], windows in row-major order per image.
enum Window {
    static func partition(_ x: Tensor, _ ws: Int) -> Tensor {
        let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws
        var out = Tensor(zeros: [b * nh * nw, ws, ws, c])
        withPointers(x, mutating: &out) { src, dst in
            for bi in 0..<b { for y in 0..<h { for xx in 0..<w {
                let wi = (bi * nh + y / ws) * nw + xx / ws, ti = (y % ws) * ws + xx % ws
                (dst + (wi * ws * ws + ti) * c).update(from: src + ((bi * h + y) * w + xx) * c, count: c)
            } } }
        }
        return out
    }

    /// y [B, H, W, C] += the unpadded part of windows [B·nh·nw, ws, ws, C].
    static func unpartitionAdding(_ windows: Tensor, into y: inout Tensor) {
        let (b, h, w, c) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        let ws = windows.shape[1], nh = (h + ws - 1) / ws, nw = (w + ws - 1) / ws
        precondition(windows.shape == [b * nh * nw, ws, ws, c], "Window.unpartition: \(windows.shape) does not tile \(y.shape)")
        withPointers(windows, mutating: &y) { src, dst in
            for bi in 0..<b { for yy in 0..<h { for xx in 0..<w {
                let wi = (bi * nh + yy / ws) * nw + xx / ws, ti = (yy % ws) * ws + xx % ws
                let s = src + (wi * ws * ws + ti) * c, d = dst + ((bi * h + yy) * w + xx) * c
                for k in 0..<c { d[k] += s[k] }
            } } }
        }
    }
}

public struct ImageEncoderViT {
    public let config: ViTConfig
    let patchEmbed: FrozenConv2D
    let posEmbed: Tensor   // [grid, grid, C]
    let blocks: [ViTBlock]
    let neck1, neck2: FrozenConv2D
    let neckNorm1, neckNorm2: FrozenLayerNorm2D

    public init(_ bag: WeightBag, _ p: String = "image_encoder", config: ViTConfig = .vitB, context: ExecutionContext) {
        self.config = config
        let d = config.embedDim, g = config.gridSize
        patchEmbed = FrozenConv2D(bag, p + ".patch_embed.proj", in: 3, out: d, kernel: config.patchSize,
                                  geometry: .init(stride: config.patchSize), context: context)
        posEmbed = bag.take(p + ".pos_embed", [g, g, d])
        blocks = (0..<config.depth).map { i in
            ViTBlock(bag, "\(p).blocks.\(i)", config: config,
                     window: config.globalAttnIndexes.contains(i) ? 0 : config.windowSize)
        }
        neck1 = FrozenConv2D(bag, p + ".neck.0", in: d, out: config.outChans, kernel: 1, bias: false, context: context)
        neckNorm1 = FrozenLayerNorm2D(bag, p + ".neck.1", channels: config.outChans)
        neck2 = FrozenConv2D(bag, p + ".neck.2", in: config.outChans, out: config.outChans, kernel: 3,
                             geometry: .init(padding: 1), bias: false, context: context)
        neckNorm2 = FrozenLayerNorm2D(bag, p + ".neck.3", channels: config.outChans)
    }

    /// Patch embedding plus the absolute position embedding: [B, 3, S, S] → tokens [B, S/p, S/p, C].
    func embed(_ images: Tensor) throws -> Tensor {
        let x = try patchEmbed(images)                                // [B, C, g, g]
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(h * w * c == posEmbed.count,
                     "ImageEncoderViT: images \(images.shape) give a \(h)×\(w) grid; the encoder is built for \(config.imageSize)²")
        var t = Shape.permute(x, [0, 2, 3, 1])
        withPointers(posEmbed, mutating: &t) { pb, tb in
            let per = h * w * c
            for bi in 0..<b {
                let d = tb + bi * per
                for i in 0..<per { d[i] += pb[i] }
            }
        }
        return t
    }

    /// The tokens after the first `count` blocks (for parity checks of intermediate stages).
    func tokens(_ images: Tensor, through count: Int) throws -> Tensor {
        var x = try embed(images)
        for blk in blocks.prefix(count) { x = blk(x) }
        return x
    }

    /// Preprocessed images [B, 3, S, S] → embeddings [B, outChans, S/16, S/16].
    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        let t = try tokens(images, through: blocks.count)
        let x = neckNorm1(try neck1(Shape.permute(t, [0, 3, 1, 2])))
        return neckNorm2(try neck2(x))
    }
}
