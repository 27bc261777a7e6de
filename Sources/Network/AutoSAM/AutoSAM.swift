/// AutoSAM: a frozen SAM whose dense prompt is written by the trainable prompt generator g.
/// Mz = D(E(I), pe, sparse = ∅, dense = g(I)), single mask output. Knows no ranks or files.
/// SAM and g each run on the context they were built with (normally the same one).
public struct AutoSAM {
    public let sam: SAM
    public let generator: PromptGenerator
    public var lossActivation: LossActivation
    /// Side of g's square input: the preprocessed SAM input resized to it.
    public let generatorSide: Int

    /// g's input side for a SAM input of `samSide`: the same, at most 512 as the authors do
    /// for 1024-input SAMs.
    public static func defaultGeneratorSide(_ samSide: Int) -> Int { min(samSide, 512) }

    public init(sam: SAM, generator: PromptGenerator, lossActivation: LossActivation = .sigmoid, generatorSide: Int? = nil) {
        self.sam = sam
        self.generator = generator
        self.lossActivation = lossActivation
        self.generatorSide = generatorSide ?? Self.defaultGeneratorSide(sam.imageSize)
        // g reads SAM's preprocessed input: LiteMedSAM's is min-max scaled, SAM ViT's
        // normalised with ImageNet's mean and std.
        generator.inputScale = sam.kind == .liteMedSAM ? .unitRange : .imageNetNormalized
    }

    /// g's input from preprocessed SAM inputs [b, 3, S, S]: resized bilinearly
    /// (align_corners = true) to `generatorSide`, or as they are when that is S.
    public func generatorInput(_ images: Tensor) -> Tensor { Self.generatorInput(images, side: generatorSide) }

    public static func generatorInput(_ images: Tensor, side: Int) -> Tensor {
        images.dim(2) == side && images.dim(3) == side ? images
            : BilinearResize.forward(images, height: side, width: side, alignCorners: true)
    }

    var emptySparse: Tensor { Tensor(zeros: [1, 0, sam.maskDecoder.dim]) }

    public struct StepResult {
        public var loss: Double          // mean over this shard
        public var logits: Tensor        // [b, 1, 256, 256]
    }

    /// Forward and backward on one shard. `images` [b, 3, S, S] are g's input (the
    /// preprocessed SAM input), `embeddings` [b, 256, 64, 64] the frozen encoder's output,
    /// `targets` [b, 1, 256, 256] in {0, 1}. The loss is computed on the 256² low-res logits,
    /// the resolution SAM's decoder predicts at (upsampling first would add cost, not signal).
    /// Gradients are scaled by `weight` (shard size ÷ global batch) and added to g's store.
    /// Throws when a convolution backend or a SyncBatchNorm collective fails.
    public func trainStep(images: Tensor, embeddings: Tensor, targets: Tensor, weight: Double) throws -> StepResult {
        let (z, gc) = try generator.forward(images, embedding: generator.readsEmbedding ? embeddings : nil, training: true)
        let (result, dz) = try decoderStep(z: z, embeddings: embeddings, targets: targets, weight: weight)
        try generator.backward(dz, gc)
        return result
    }

    /// Decoder forward, loss and backward to the dense prompt. A function of its own so the
    /// decoder's caches are released before g's backward, which has the step's peak memory.
    public func decoderStep(z: Tensor, embeddings: Tensor, targets: Tensor, weight: Double) throws -> (StepResult, Tensor) {
        let (out, dc) = try sam.maskDecoder.forward(imageEmbedding: embeddings, imagePE: sam.densePE,
                                                sparse: emptySparse, dense: z, multimaskOutput: false)
        let l = SegmentationLoss.bceDice(logits: out.masks, target: targets, activation: lossActivation)
        let dMasks = weight == 1 ? l.gradient : Elementwise.scale(l.gradient, Float(weight))
        let dz = try sam.maskDecoder.backwardDense(dMasks: dMasks, dc)
        return (StepResult(loss: l.loss, logits: out.masks), dz)
    }

    /// `decoderStep` one sample at a time, each sample's loss gradient scaled by 1 / `globalBatch`:
    /// every sample's dz is the same bits whichever shard holds it (the batch-invariant mode).
    /// Returns each sample's loss and the logits and dz of the shard.
    public func decoderStepPerSample(z: Tensor, embeddings: Tensor, targets: Tensor,
                                     globalBatch: Int) throws -> (losses: [Double], logits: Tensor, dz: Tensor) {
        let n = z.shape[0]
        var losses: [Double] = [], logits: [Tensor] = [], dz: [Tensor] = []
        for s in 0..<n {
            let (r, d) = try decoderStep(z: z.sample(s), embeddings: embeddings.sample(s), targets: targets.sample(s),
                                         weight: 1 / Double(globalBatch))
            losses.append(r.loss)
            logits.append(r.logits)
            dz.append(d)
        }
        return (losses, Tensor.concatenatingSamples(logits), Tensor.concatenatingSamples(dz))
    }

    /// Low-res mask logits [b, 1, 256, 256] with g in evaluation mode.
    public func predict(images: Tensor, embeddings: Tensor) throws -> Tensor {
        let z = try generator.infer(images, embedding: generator.readsEmbedding ? embeddings : nil)
        return try sam.maskDecoder.forward(imageEmbedding: embeddings, imagePE: sam.densePE,
                                       sparse: emptySparse, dense: z, multimaskOutput: false).0.masks
    }
}
