/// g, AutoSAM's prompt generator (the authors' `ModelEmb`): a HarDNet or MobileNetV2 backbone, then
/// `decoder.up1(x16, x8)` → `decoder.up2(·, x4)` → `decoder.final` (CNNBlock to 256
/// channels) → tanh → bilinear resize to 64×64 with align_corners = true. Its output
/// replaces SAM's dense prompt embedding. With `input: .embedding` the final block reads
/// `embedding_head`'s output on SAM's image embedding instead; with `.both`, the two side by side.
///
/// All trainable tensors live in `store` under the names of ModelEmb's state dict
/// (`backbone.base.…` or `backbone.features.…`, `decoder.up1.…`); BatchNorm running statistics
/// live in `buffers`. The decoder's widths follow the backbone's stages.
/// `training: true` runs BatchNorm on batch statistics and updates the running ones.
/// Every convolution runs on `context.convolution`. Forward and backward throw when a
/// convolution backend fails or a SyncBatchNorm collective does (`SyncBatchNormError`).
public final class PromptGenerator {
    public let backboneKind: GeneratorBackbone
    /// What g reads: the image (the paper's g), SAM's embedding, or both (`EmbeddingHead`).
    public let input: GeneratorInput
    /// How the images given to g are scaled (`AutoSAM` sets it from its SAM); a MobileNetV2
    /// backbone normalises a [0, 1] input with ImageNet's mean and std first.
    public var inputScale: GeneratorInputScale = .unitRange
    public let context: ExecutionContext
    public let store: ParameterStore
    public let buffers: BufferStore
    public let embeddingChannels: Int
    public let outputSize: Int
    /// The image path (nil when g reads the embedding only).
    let image: (backbone: BackboneNetwork, up1: UpBlockSkip, up2: UpBlockSkip)?
    /// The embedding path (nil when g reads the image only).
    let head: EmbeddingHead?
    let final: CNNBlock

    /// Everything backward needs from one forward pass. Backward consumes it, releasing
    /// each part as soon as it is done with it; one cache serves one backward.
    public final class Cache {
        var backbone: BackboneNetwork.Cache?
        var decoder: Decoder?

        struct Decoder {
            var up: (up1: UpBlockSkip.Cache, up2: UpBlockSkip.Cache, shape: [Int])?
            var head: EmbeddingHead.Cache?
            let final: CNNBlock.Cache
            let tanhOut: Tensor
        }

        init(backbone: BackboneNetwork.Cache?, decoder: Decoder) {
            self.backbone = backbone
            self.decoder = decoder
        }
    }

    /// Registers every parameter in `store` (which must not already hold these names) and
    /// initialises it like PyTorch's defaults, drawing from `rng` in registration order.
    public convenience init(variant: HarDNetVariant, store: ParameterStore = ParameterStore(), embeddingChannels: Int = 256,
                            outputSize: Int = 64, context: ExecutionContext, rng: inout SeededRNG) {
        self.init(backbone: .hardnet(variant), store: store, embeddingChannels: embeddingChannels, outputSize: outputSize,
                  context: context, rng: &rng)
    }

    /// `input: .embedding` builds no backbone (`backbone` then only names the config's choice).
    public init(backbone kind: GeneratorBackbone, input: GeneratorInput = .image, store: ParameterStore = ParameterStore(),
                embeddingChannels: Int = 256, outputSize: Int = 64, context: ExecutionContext, rng: inout SeededRNG) {
        backboneKind = kind
        self.input = input
        self.context = context
        self.store = store
        self.embeddingChannels = embeddingChannels
        self.outputSize = outputSize
        let buffers = BufferStore()
        self.buffers = buffers
        var finalIn = 0
        if input != .embedding {
            let backbone = BackboneNetwork(kind, store, buffers, prefix: "backbone.", context: context, rng: &rng)
            let d = backbone.stageChannels
            let up1 = UpBlockSkip(store, buffers, "decoder.up1", in: d[3] + d[2], out: d[2], context: context, rng: &rng)
            let up2 = UpBlockSkip(store, buffers, "decoder.up2", in: d[2] + d[1], out: d[1], context: context, rng: &rng)
            image = (backbone, up1, up2)
            finalIn += d[1]
        } else {
            image = nil
        }
        if input != .image {
            head = EmbeddingHead(store, buffers, "embedding_head", in: embeddingChannels, context: context, rng: &rng)
            finalIn += EmbeddingHead.width
        } else {
            head = nil
        }
        final = CNNBlock(store, buffers, "decoder.final", in: finalIn, out: embeddingChannels, context: context, rng: &rng)
    }

    /// Channels of the backbone's stage outputs at strides 2, 4, 8, 16 (none without a backbone).
    public var stageChannels: [Int] { image?.backbone.stageChannels ?? [] }

    /// The HarDNet backbone, when g has one (for tests that look inside it).
    var hardnet: HarDNet? {
        if case let .hardnet(h)? = image?.backbone { return h }
        return nil
    }

    /// Whether `forward` and `infer` need SAM's image embedding.
    public var readsEmbedding: Bool { head != nil }

    /// One blank sample of g's inputs for an image side `side` (a rank with an empty shard
    /// joins every collective with it).
    public func blankInputs(side: Int) -> (image: Tensor, embedding: Tensor?) {
        (Tensor(zeros: [1, 3, side, side]),
         readsEmbedding ? Tensor(zeros: [1, embeddingChannels, outputSize, outputSize]) : nil)
    }

    /// x [N, 3, H, W] (H, W multiples of 16) and, when g reads it, SAM's embedding
    /// [N, 256, 64, 64] → Z [N, 256, 64, 64].
    public func forward(_ x: Tensor, embedding: Tensor? = nil, training: Bool) throws -> (Tensor, Cache) {
        var backboneCache: BackboneNetwork.Cache? = nil
        var up: (up1: UpBlockSkip.Cache, up2: UpBlockSkip.Cache, shape: [Int])? = nil
        var headCache: EmbeddingHead.Cache? = nil
        var parts: [Tensor] = []
        if let image {
            let (stages, bc) = try backboneForward(x, training: training)
            backboneCache = bc
            let (u1, c1) = try image.up1.forward(stages[2], skip: stages[1], training: training)
            let (u2, c2) = try image.up2.forward(u1, skip: stages[0], training: training)
            up = (c1, c2, u2.shape)
            parts.append(u2)
        }
        if let head {
            let (h, hc) = try head.forward(try checkEmbedding(embedding, batch: x.dim(0)), training: training)
            headCache = hc
            parts.append(h)
        }
        let (f, cf) = try final.forward(join(parts), training: training)
        let t = Tanh.forward(f)
        let z = BilinearResize.forward(t, height: outputSize, width: outputSize, alignCorners: true)
        return (z, Cache(backbone: backboneCache, decoder: .init(up: up, head: headCache, final: cf, tanhOut: t)))
    }

    /// Z in evaluation mode for inference: the same function as `forward(x, training: false)`,
    /// with each BatchNorm folded into its convolution and the activation after it fused into
    /// the same oneDNN call, and nothing kept for a backward pass.
    public func infer(_ x: Tensor, embedding: Tensor? = nil) throws -> Tensor {
        var parts: [Tensor] = []
        if let image {
            checkInput(x)
            let stages = try image.backbone.infer(image.backbone.prepare(x, scale: inputScale))
            parts.append(try image.up2.infer(image.up1.infer(stages[2], skip: stages[1]), skip: stages[0]))
        }
        if let head { parts.append(try head.infer(try checkEmbedding(embedding, batch: x.dim(0)))) }
        let t = Tanh.forward(try final.infer(join(parts)))
        return BilinearResize.forward(t, height: outputSize, width: outputSize, alignCorners: true)
    }

    /// The decoder's stride-4 features and the head's output side by side; the former resized
    /// to the embedding's grid when g's input is not 4 × 64.
    private func join(_ parts: [Tensor]) -> Tensor {
        guard parts.count == 2 else { return parts[0] }
        let (u, h) = (parts[0], parts[1])
        let resized = u.dim(2) == h.dim(2) && u.dim(3) == h.dim(3) ? u
            : BilinearResize.forward(u, height: h.dim(2), width: h.dim(3), alignCorners: false)
        return Shape.concat([resized, h], axis: 1)
    }

    private func checkInput(_ x: Tensor) {
        precondition(x.rank == 4 && x.dim(1) == 3 && x.dim(2) % 16 == 0 && x.dim(3) % 16 == 0,
                     "PromptGenerator: want an image batch [N, 3, H, W] with H, W multiples of 16, got \(x.shape)")
    }

    private func checkEmbedding(_ e: Tensor?, batch: Int) throws -> Tensor {
        guard let e else {
            throw NetworkError.invalidArgument("PromptGenerator: g reads SAM's image embedding (generator.input \(input.rawValue)), and none was given")
        }
        guard e.rank == 4, e.dim(0) == batch, e.dim(1) == embeddingChannels else {
            throw NetworkError.invalidArgument("PromptGenerator: want an embedding batch [\(batch), \(embeddingChannels), H, W], got \(e.shape)")
        }
        return e
    }

    /// The backbone's stage outputs (x4, x8, x16) for g's input `x`, and what backward needs.
    func backboneForward(_ x: Tensor, training: Bool) throws -> ([Tensor], BackboneNetwork.Cache) {
        guard let image else { preconditionFailure("PromptGenerator: g reads the embedding only; it has no backbone") }
        checkInput(x)
        return try image.backbone.forward(image.backbone.prepare(x, scale: inputScale), training: training)
    }

    func backboneBackward(_ dStages: [Tensor], _ cache: BackboneNetwork.Cache) throws {
        try image!.backbone.backward(dStages, cache)
    }

    /// Accumulates dL/dθ for every parameter into `store.grads` (the image and the embedding
    /// get no gradient).
    public func backward(_ dOut: Tensor, _ cache: Cache) throws {
        guard let dStages = try decoderBackward(dOut, cache) else { return }
        guard let bc = cache.backbone else { preconditionFailure("PromptGenerator.backward: no backbone cache") }
        cache.backbone = nil
        try image!.backbone.backward(dStages, bc)
    }

    /// The decoder and head part of backward; its caches are gone when this returns.
    /// Returns the backbone's stage gradients (nil without a backbone).
    private func decoderBackward(_ dOut: Tensor, _ cache: Cache) throws -> [Tensor]? {
        guard let c = cache.decoder else { preconditionFailure("PromptGenerator.backward: this cache was already used") }
        cache.decoder = nil
        let dt = BilinearResize.backward(dOut, inputShape: c.tanhOut.shape, alignCorners: true)
        let df = Tanh.backward(dt, output: c.tanhOut)
        let dj = try final.backward(df, c.final)
        var dImage = dj
        if let head, let hc = c.head {
            if let up = c.up {
                let parts = Shape.concatBackward(dj, sizes: [up.shape[1], EmbeddingHead.width], axis: 1)
                dImage = parts[0].shape == up.shape ? parts[0]
                    : BilinearResize.backward(parts[0], inputShape: up.shape, alignCorners: false)
                try head.backward(parts[1], hc)
            } else {
                try head.backward(dj, hc)
            }
        }
        guard let image, let up = c.up else { return nil }
        let (du1, dx4) = try image.up2.backward(dImage, up.up2)
        let (dx16, dx8) = try image.up1.backward(du1, up.up1)
        return [dx4, dx8, dx16]
    }

    /// BatchNorm running statistics by state-dict name, for checkpoints.
    public var runningStats: [(name: String, values: [Float])] { buffers.named }

    /// Replaces every BatchNorm's running statistics by their plain average over `count`
    /// train-mode batches, `batch(k)` the k-th (PreciseBN): the exponential average with
    /// momentum 0.1 lags weights that moved fast in a short run, and evaluation uses it.
    /// Local to this process (no statistics reducer); parameters and gradients are untouched.
    public func recomputeRunningStats(batches count: Int, _ batch: (Int) throws -> (images: Tensor, embeddings: Tensor?)) throws {
        let reducer = buffers.statisticsReducer, momentum = buffers.batchNormMomentum
        buffers.statisticsReducer = nil
        defer { buffers.statisticsReducer = reducer; buffers.batchNormMomentum = momentum }
        for k in 0..<count {
            // Running value after batch k: (k·average of the first k + value k) / (k + 1).
            buffers.batchNormMomentum = 1 / Float(k + 1)
            let (x, e) = try batch(k)
            _ = try forward(x, embedding: e, training: true)
        }
    }

    public func setRunningStats(_ stats: [(name: String, values: [Float])]) throws {
        for (name, v) in stats { try buffers.set(name, v) }
    }
}
