/// SAM's mask decoder: two-way transformer over (output tokens + sparse prompts) and
/// (image embedding + dense prompt), transposed-conv upscaling ×4, hypernetwork MLPs per
/// mask token, and the IoU head. Frozen; its backward gives the gradient with respect to
/// the dense prompt, which is how AutoSAM trains its prompt generator.
public struct MaskDecoder {
    public let dim: Int
    public let numMaskTokens: Int
    let iouToken: Tensor, maskTokens: Tensor
    let transformer: TwoWayTransformer
    let up1: FrozenConvTranspose2D, upNorm: FrozenLayerNorm2D, up2: FrozenConvTranspose2D
    let hypernetworks: [SAMHeadMLP]
    let iouHead: SAMHeadMLP

    public init(_ bag: WeightBag, _ p: String = "mask_decoder", dim: Int = 256, multimaskOutputs: Int = 3,
                iouHeadDepth: Int = 3, iouHeadHidden: Int = 256, context: ExecutionContext) {
        self.dim = dim
        numMaskTokens = multimaskOutputs + 1
        iouToken = bag.take(p + ".iou_token.weight", [1, dim])
        maskTokens = bag.take(p + ".mask_tokens.weight", [numMaskTokens, dim])
        transformer = TwoWayTransformer(bag, p + ".transformer", dim: dim)
        let k2s2 = ConvTranspose2DGeometry(stride: 2)
        up1 = FrozenConvTranspose2D(bag, p + ".output_upscaling.0", in: dim, out: dim / 4, kernel: 2, geometry: k2s2,
                                    context: context)
        upNorm = FrozenLayerNorm2D(bag, p + ".output_upscaling.1", channels: dim / 4)
        up2 = FrozenConvTranspose2D(bag, p + ".output_upscaling.3", in: dim / 4, out: dim / 8, kernel: 2, geometry: k2s2,
                                    context: context)
        hypernetworks = (0..<numMaskTokens).map {
            SAMHeadMLP(bag, "\(p).output_hypernetworks_mlps.\($0)", input: dim, hidden: dim, output: dim / 8, depth: 3)
        }
        iouHead = SAMHeadMLP(bag, p + ".iou_prediction_head", input: dim, hidden: iouHeadHidden, output: numMaskTokens, depth: iouHeadDepth)
    }

    public struct Output {
        public var masks: Tensor      // [B, M, 4h, 4w] low-res logits
        public var iou: Tensor        // [B, M]
    }

    /// What backward needs from a forward pass.
    public struct Cache {
        var transformer: TwoWayTransformer.Cache
        var batch: Int, h: Int, w: Int
        var src: Tensor, up1Out: Tensor, normStats: NormStats, normOut: Tensor, up2Out: Tensor, upscaled: Tensor
        var hyperIn: Tensor                 // [B, numMaskTokens, dim/8]
        var hyperPre: [[Tensor]]
        var maskTokenOut: [Tensor]          // per token [B, dim]
        var maskSlice: Range<Int>
    }

    /// imageEmbedding [B, C, h, w]; imagePE [1, C, h, w]; sparse [1 or B, N, C] (N may be 0);
    /// dense [B, C, h, w] (or [1, C, h, w], broadcast).
    public func forward(imageEmbedding: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor,
                        multimaskOutput: Bool) throws -> (Output, Cache) {
        let b = imageEmbedding.shape[0], c = dim, h = imageEmbedding.shape[2], w = imageEmbedding.shape[3]
        let nSparse = sparse.shape[1]
        precondition(sparse.shape[0] == 1 || sparse.shape[0] == b, "MaskDecoder: sparse batch \(sparse.shape[0]) vs images \(b)")
        precondition(dense.shape[0] == 1 || dense.shape[0] == b, "MaskDecoder: dense batch \(dense.shape[0]) vs images \(b)")
        // Tokens [B, 1 + M + N, C]: output tokens then the sparse prompt.
        let nTok = 1 + numMaskTokens + nSparse
        var tokens = Tensor(zeros: [b, nTok, c])
        for i in 0..<b {
            let base = i * nTok * c
            tokens.data.replaceSubrange(base..<(base + c), with: iouToken.data)
            tokens.data.replaceSubrange((base + c)..<(base + (1 + numMaskTokens) * c), with: maskTokens.data)
            let sb = sparse.shape[0] == 1 ? 0 : i
            if nSparse > 0 {
                let s0 = sb * nSparse * c
                tokens.data.replaceSubrange((base + (1 + numMaskTokens) * c)..<(base + nTok * c), with: sparse.data[s0..<(s0 + nSparse * c)])
            }
        }
        let src = broadcastAdd(imageEmbedding, dense)
        let flat = Shape.permute(src.reshaped([b, c, h * w]), [0, 2, 1])
        let peFlat1 = Shape.permute(imagePE.reshaped([1, c, h * w]), [0, 2, 1])
        var peFlat = Tensor(zeros: [b, h * w, c])
        for i in 0..<b { peFlat.data.replaceSubrange((i * h * w * c)..<((i + 1) * h * w * c), with: peFlat1.data) }
        let t = transformer.forward(image: flat, imagePE: peFlat, tokens: tokens)

        let keysImage = Shape.permute(t.keys, [0, 2, 1]).reshaped([b, c, h, w])
        let up1Out = try up1(keysImage)
        let (normOut, normStats) = upNorm.forward(up1Out)
        let up2In = GELU.forward(normOut)
        let up2Out = try up2(up2In)
        let upscaled = GELU.forward(up2Out)      // [B, c/8, 4h, 4w]
        let cu = c / 8, hw = upscaled.shape[2] * upscaled.shape[3]

        var hyperIn = Tensor(zeros: [b, numMaskTokens, cu])
        var hyperPre: [[Tensor]] = []
        var tokenOut: [Tensor] = []
        for m in 0..<numMaskTokens {
            let tok = Shape.slice(t.queries, axis: 1, range: (1 + m)..<(2 + m)).reshaped([b, c])
            let (hm, pre) = hypernetworks[m].forward(tok)
            hyperPre.append(pre)
            tokenOut.append(tok)
            for i in 0..<b {
                hyperIn.data.replaceSubrange(((i * numMaskTokens + m) * cu)..<((i * numMaskTokens + m + 1) * cu),
                                             with: hm.data[(i * cu)..<((i + 1) * cu)])
            }
        }
        let masksAll = MatMul.forward(hyperIn, upscaled.reshaped([b, cu, hw]))   // [B, M, HW]
        let iouTok = Shape.slice(t.queries, axis: 1, range: 0..<1).reshaped([b, c])
        let iouAll = iouHead.forward(iouTok).0                                      // [B, M]

        let sl = multimaskOutput ? 1..<numMaskTokens : 0..<1
        let masks = Shape.slice(masksAll, axis: 1, range: sl).reshaped([b, sl.count, upscaled.shape[2], upscaled.shape[3]])
        let iou = Shape.slice(iouAll, axis: 1, range: sl)
        let cache = Cache(transformer: t.cache, batch: b, h: h, w: w, src: src, up1Out: up1Out, normStats: normStats,
                          normOut: normOut, up2Out: up2Out, upscaled: upscaled, hyperIn: hyperIn, hyperPre: hyperPre,
                          maskTokenOut: tokenOut, maskSlice: sl)
        return (Output(masks: masks, iou: iou), cache)
    }

    /// Gradient of the loss with respect to the dense prompt [B, C, h, w], from the gradient
    /// with respect to the returned masks. (The IoU prediction takes no part in the loss.)
    public func backwardDense(dMasks: Tensor, _ k: Cache) throws -> Tensor {
        let b = k.batch, c = dim, cu = c / 8
        let hw = k.upscaled.shape[2] * k.upscaled.shape[3]
        let sl = k.maskSlice
        // Spread the slice's gradient over all mask tokens (zeros outside the slice).
        var dAll = Tensor(zeros: [b, numMaskTokens, hw])
        for i in 0..<b {
            for (j, m) in sl.enumerated() {
                let src = (i * sl.count + j) * hw, dst = (i * numMaskTokens + m) * hw
                dAll.data.replaceSubrange(dst..<(dst + hw), with: dMasks.data[src..<(src + hw)])
            }
        }
        let g = MatMul.backward(dAll, k.hyperIn, k.upscaled.reshaped([b, cu, hw]))
        // Upscaling path back to the transformer's image output.
        let dUp2Out = GELU.backward(g.db.reshaped(k.upscaled.shape), input: k.up2Out)
        let dUp2In = try up2.backwardInput(dUp2Out)
        let dNormOut = GELU.backward(dUp2In, input: k.normOut)
        let dUp1Out = upNorm.backwardInput(dNormOut, input: k.up1Out, stats: k.normStats)
        let dKeysImage = try up1.backwardInput(dUp1Out)                              // [B, C, h, w]
        let dKeys = Shape.permute(dKeysImage.reshaped([b, c, k.h * k.w]), [0, 2, 1])
        // Hypernetwork path back to the transformer's token output.
        let nTok = k.transformer.preFinal.shape[1]
        var dQueries = Tensor(zeros: [b, nTok, c])
        for m in sl {
            var dh = Tensor(zeros: [b, cu])
            for i in 0..<b {
                let s0 = (i * numMaskTokens + m) * cu
                dh.data.replaceSubrange((i * cu)..<((i + 1) * cu), with: g.da.data[s0..<(s0 + cu)])
            }
            let dTok = hypernetworks[m].backward(dh, pre: k.hyperPre[m])
            for i in 0..<b {
                let d0 = (i * nTok + 1 + m) * c
                dQueries.data.replaceSubrange(d0..<(d0 + c), with: dTok.data[(i * c)..<((i + 1) * c)])
            }
        }
        let dFlat = transformer.backwardImage(dQueries: dQueries, dKeys: dKeys, k.transformer)
        return Shape.permute(dFlat, [0, 2, 1]).reshaped([b, c, k.h, k.w])
    }
}

/// a + b where b's batch may be 1 (broadcast over a's batch).
func broadcastAdd(_ a: Tensor, _ b: Tensor) -> Tensor {
    if a.shape == b.shape { return Elementwise.add(a, b) }
    precondition(b.shape[0] == 1 && Array(b.shape.dropFirst()) == Array(a.shape.dropFirst()),
                 "broadcastAdd: \(a.shape) + \(b.shape)")
    var out = a
    let per = b.count
    withPointers(b, mutating: &out) { bb, o in
        for i in 0..<(a.count / per) {
            let base = o + i * per
            for j in 0..<per { base[j] += bb[j] }
        }
    }
    return out
}
