/// g, AutoSAM's prompt generator (the authors' `ModelEmb`): a HarDNet backbone, then
/// `decoder.up1(x16, x8)` → `decoder.up2(·, x4)` → `decoder.final` (CNNBlock to 256
/// channels) → tanh → bilinear resize to 64×64 with align_corners = true. Its output
/// replaces SAM's dense prompt embedding.
///
/// All trainable tensors live in `store` under the names of ModelEmb's state dict
/// (`backbone.base.…`, `decoder.up1.…`); BatchNorm running statistics live in `buffers`.
/// `training: true` runs BatchNorm on batch statistics and updates the running ones.
/// Every convolution runs on `context.convolution`. Forward and backward throw when a
/// convolution backend fails or a SyncBatchNorm collective does (`SyncBatchNormError`).
public final class PromptGenerator {
    public let variant: HarDNetVariant
    public let context: ExecutionContext
    public let store: ParameterStore
    public let buffers: BufferStore
    public let embeddingChannels: Int
    public let outputSize: Int
    let backbone: HarDNet
    let up1, up2: UpBlockSkip
    let final: CNNBlock

    /// Everything backward needs from one forward pass. Backward consumes it, releasing
    /// each part as soon as it is done with it; one cache serves one backward.
    public final class Cache {
        let backbone: CacheStack<HarDNet.ModuleCache>
        var decoder: (up1: UpBlockSkip.Cache, up2: UpBlockSkip.Cache, final: CNNBlock.Cache, tanhOut: Tensor)?

        init(backbone: CacheStack<HarDNet.ModuleCache>, up1: UpBlockSkip.Cache, up2: UpBlockSkip.Cache,
             final: CNNBlock.Cache, tanhOut: Tensor) {
            self.backbone = backbone
            decoder = (up1, up2, final, tanhOut)
        }
    }

    /// Registers every parameter in `store` (which must not already hold these names) and
    /// initialises it like PyTorch's defaults, drawing from `rng` in registration order.
    public init(variant: HarDNetVariant, store: ParameterStore = ParameterStore(), embeddingChannels: Int = 256,
                outputSize: Int = 64, context: ExecutionContext, rng: inout SeededRNG) {
        self.variant = variant
        self.context = context
        self.store = store
        self.embeddingChannels = embeddingChannels
        self.outputSize = outputSize
        let buffers = BufferStore()
        self.buffers = buffers
        backbone = HarDNet(variant, store, buffers, prefix: "backbone.", context: context, rng: &rng)
        let d = backbone.stageChannels
        up1 = UpBlockSkip(store, buffers, "decoder.up1", in: d[3] + d[2], out: d[2], context: context, rng: &rng)
        up2 = UpBlockSkip(store, buffers, "decoder.up2", in: d[2] + d[1], out: d[1], context: context, rng: &rng)
        final = CNNBlock(store, buffers, "decoder.final", in: d[1], out: embeddingChannels, context: context, rng: &rng)
    }

    /// Channels of the backbone's stage outputs at strides 2, 4, 8, 16.
    public var stageChannels: [Int] { backbone.stageChannels }

    /// x [N, 3, H, W] (H, W multiples of 16) → Z [N, 256, 64, 64].
    public func forward(_ x: Tensor, training: Bool) throws -> (Tensor, Cache) {
        checkInput(x)
        let (stages, bc) = try backbone.forward(x, training: training)
        let (u1, c1) = try up1.forward(stages[2], skip: stages[1], training: training)
        let (u2, c2) = try up2.forward(u1, skip: stages[0], training: training)
        let (f, cf) = try final.forward(u2, training: training)
        let t = Tanh.forward(f)
        let z = BilinearResize.forward(t, height: outputSize, width: outputSize, alignCorners: true)
        return (z, Cache(backbone: bc, up1: c1, up2: c2, final: cf, tanhOut: t))
    }

    /// Z in evaluation mode for inference: the same function as `forward(x, training: false)`,
    /// with each BatchNorm folded into its convolution and the activation after it fused into
    /// the same oneDNN call, and nothing kept for a backward pass.
    public func infer(_ x: Tensor) throws -> Tensor {
        checkInput(x)
        let stages = try backbone.infer(x)
        let u2 = try up2.infer(up1.infer(stages[2], skip: stages[1]), skip: stages[0])
        let t = Tanh.forward(try final.infer(u2))
        return BilinearResize.forward(t, height: outputSize, width: outputSize, alignCorners: true)
    }

    private func checkInput(_ x: Tensor) {
        precondition(x.rank == 4 && x.dim(1) == 3 && x.dim(2) % 16 == 0 && x.dim(3) % 16 == 0,
                     "PromptGenerator: want an image batch [N, 3, H, W] with H, W multiples of 16, got \(x.shape)")
    }

    /// Accumulates dL/dθ for every parameter into `store.grads` (the image gets no gradient).
    public func backward(_ dOut: Tensor, _ cache: Cache) throws {
        let dStages = try decoderBackward(dOut, cache)
        try backbone.backward(dStages, cache.backbone)
    }

    /// The decoder part of backward; its caches are gone when this returns.
    private func decoderBackward(_ dOut: Tensor, _ cache: Cache) throws -> [Tensor] {
        guard let c = cache.decoder else { preconditionFailure("PromptGenerator.backward: this cache was already used") }
        cache.decoder = nil
        let dt = BilinearResize.backward(dOut, inputShape: c.tanhOut.shape, alignCorners: true)
        let df = Tanh.backward(dt, output: c.tanhOut)
        let du2 = try final.backward(df, c.final)
        let (du1, dx4) = try up2.backward(du2, c.up2)
        let (dx16, dx8) = try up1.backward(du1, c.up1)
        return [dx4, dx8, dx16]
    }

    /// BatchNorm running statistics by state-dict name, for checkpoints.
    public var runningStats: [(name: String, values: [Float])] { buffers.named }

    /// Replaces every BatchNorm's running statistics by their plain average over `count`
    /// train-mode batches, `batch(k)` the k-th (PreciseBN): the exponential average with
    /// momentum 0.1 lags weights that moved fast in a short run, and evaluation uses it.
    /// Local to this process (no statistics reducer); parameters and gradients are untouched.
    public func recomputeRunningStats(batches count: Int, _ batch: (Int) throws -> Tensor) throws {
        let reducer = buffers.statisticsReducer, momentum = buffers.batchNormMomentum
        buffers.statisticsReducer = nil
        defer { buffers.statisticsReducer = reducer; buffers.batchNormMomentum = momentum }
        for k in 0..<count {
            // Running value after batch k: (k·average of the first k + value k) / (k + 1).
            buffers.batchNormMomentum = 1 / Float(k + 1)
            _ = try forward(try batch(k), training: true)
        }
    }

    public func setRunningStats(_ stats: [(name: String, values: [Float])]) throws {
        for (name, v) in stats { try buffers.set(name, v) }
    }
}
