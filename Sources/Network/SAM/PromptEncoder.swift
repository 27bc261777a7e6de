#if canImport(Glibc)
import Glibc
#endif

/// SAM's prompt encoder: random-Fourier positional encoding of points and box corners,
/// learned point/corner/not-a-point embeddings, a small conv net for mask prompts, and a
/// learned "no mask" dense embedding. Coordinates are in the model's input frame.
public struct PromptEncoder {
    public let dim: Int
    public let embeddingSize: (h: Int, w: Int)
    public let inputSize: (h: Int, w: Int)
    let gaussian: Tensor            // [2, dim/2]
    let pointEmbeddings: [Tensor]   // 4 × [1, dim]: negative, positive, box corner 1, corner 2
    let notAPoint: Tensor, noMask: Tensor
    let maskConv1, maskConv2, maskConv3: FrozenConv2D
    let maskNorm1, maskNorm2: FrozenLayerNorm2D

    public init(_ bag: WeightBag, _ p: String = "prompt_encoder", dim: Int = 256,
                embeddingSize: (h: Int, w: Int), inputSize: (h: Int, w: Int), maskChannels: Int = 16,
                context: ExecutionContext) {
        self.dim = dim
        self.embeddingSize = embeddingSize
        self.inputSize = inputSize
        gaussian = bag.take(p + ".pe_layer.positional_encoding_gaussian_matrix", [2, dim / 2])
        pointEmbeddings = (0..<4).map { bag.take("\(p).point_embeddings.\($0).weight", [1, dim]) }
        notAPoint = bag.take(p + ".not_a_point_embed.weight", [1, dim])
        noMask = bag.take(p + ".no_mask_embed.weight", [1, dim])
        let s2 = Conv2DGeometry(stride: 2)
        maskConv1 = FrozenConv2D(bag, p + ".mask_downscaling.0", in: 1, out: maskChannels / 4, kernel: 2, geometry: s2,
                                 context: context)
        maskNorm1 = FrozenLayerNorm2D(bag, p + ".mask_downscaling.1", channels: maskChannels / 4)
        maskConv2 = FrozenConv2D(bag, p + ".mask_downscaling.3", in: maskChannels / 4, out: maskChannels, kernel: 2, geometry: s2,
                                 context: context)
        maskNorm2 = FrozenLayerNorm2D(bag, p + ".mask_downscaling.4", channels: maskChannels)
        maskConv3 = FrozenConv2D(bag, p + ".mask_downscaling.6", in: maskChannels, out: dim, kernel: 1, context: context)
    }

    /// sin/cos features of normalised (x, y) in [0, 1]: [sin(2π(2c−1)G), cos(…)].
    func encode(x: Float, y: Float, into out: UnsafeMutablePointer<Float>) {
        let half = dim / 2
        let cx = 2 * x - 1, cy = 2 * y - 1
        for j in 0..<half {
            let v = 2 * Float.pi * (cx * gaussian.data[j] + cy * gaussian.data[half + j])
            out[j] = sinf(v)
            out[half + j] = cosf(v)
        }
    }

    /// The dense positional encoding [1, dim, h, w] of the embedding grid.
    public func densePositionalEncoding() -> Tensor {
        let (h, w) = embeddingSize
        var hwc = [Float](repeating: 0, count: h * w * dim)
        withPointers(mutating: &hwc) { o in
            for i in 0..<h { for j in 0..<w {
                encode(x: (Float(j) + 0.5) / Float(w), y: (Float(i) + 0.5) / Float(h), into: o + (i * w + j) * dim)
            } }
        }
        return Shape.permute(Tensor(shape: [1, h * w, dim], data: hwc), [0, 2, 1]).reshaped([1, dim, h, w])
    }

    /// Point prompts [B, N, 2] with labels (1 foreground, 0 background, -1 padding).
    /// Without a box, a padding point is appended, as SAM does.
    public func embedPoints(_ points: Tensor, labels: [[Int]], pad: Bool) -> Tensor {
        let b = points.shape[0], n = points.shape[1], nOut = n + (pad ? 1 : 0)
        var out = Tensor(zeros: [b, nOut, dim])
        withPointers(mutating: &out) { o in
            for i in 0..<b { for k in 0..<nOut {
                let dst = o + (i * nOut + k) * dim
                let label = k < n ? labels[i][k] : -1
                if label == -1 {
                    for c in 0..<dim { dst[c] = notAPoint.data[c] }
                    continue
                }
                let px = points.data[(i * n + k) * 2] + 0.5, py = points.data[(i * n + k) * 2 + 1] + 0.5
                encode(x: px / Float(inputSize.w), y: py / Float(inputSize.h), into: dst)
                let e = pointEmbeddings[label == 1 ? 1 : 0].data
                for c in 0..<dim { dst[c] += e[c] }
            } }
        }
        return out
    }

    /// Box prompts [B, 4] (x0, y0, x1, y1) → [B, 2, dim].
    public func embedBoxes(_ boxes: Tensor) -> Tensor {
        let b = boxes.shape[0]
        var out = Tensor(zeros: [b, 2, dim])
        withPointers(mutating: &out) { o in
            for i in 0..<b { for corner in 0..<2 {
                let dst = o + (i * 2 + corner) * dim
                let x = boxes.data[i * 4 + corner * 2] + 0.5, y = boxes.data[i * 4 + corner * 2 + 1] + 0.5
                encode(x: x / Float(inputSize.w), y: y / Float(inputSize.h), into: dst)
                let e = pointEmbeddings[2 + corner].data
                for c in 0..<dim { dst[c] += e[c] }
            } }
        }
        return out
    }

    /// Mask prompts [B, 1, 4h, 4w] (logits) → dense [B, dim, h, w].
    public func embedMasks(_ masks: Tensor) throws -> Tensor {
        var x = GELU.forward(maskNorm1(try maskConv1(masks)))
        x = GELU.forward(maskNorm2(try maskConv2(x)))
        return try maskConv3(x)
    }

    /// The "no mask" dense embedding broadcast to [B, dim, h, w].
    public func noMaskDense(batch: Int) -> Tensor {
        let hw = embeddingSize.h * embeddingSize.w
        var out = Tensor(zeros: [batch, dim, embeddingSize.h, embeddingSize.w])
        for i in 0..<batch { for c in 0..<dim {
            let base = (i * dim + c) * hw
            for j in 0..<hw { out.data[base + j] = noMask.data[c] }
        } }
        return out
    }

    /// The full encoder: (sparse [B, N, dim], dense [B, dim, h, w]).
    public func callAsFunction(points: (Tensor, [[Int]])? = nil, boxes: Tensor? = nil, masks: Tensor? = nil) throws -> (Tensor, Tensor) {
        let b = points?.0.shape[0] ?? boxes?.shape[0] ?? masks?.shape[0] ?? 1
        var parts: [Tensor] = []
        if let (p, l) = points { parts.append(embedPoints(p, labels: l, pad: boxes == nil)) }
        if let bx = boxes { parts.append(embedBoxes(bx)) }
        let sparse = parts.isEmpty ? Tensor(zeros: [b, 0, dim]) : Shape.concat(parts, axis: 1)
        let dense = try masks.map { try embedMasks($0) } ?? noMaskDense(batch: b)
        return (sparse, dense)
    }
}
