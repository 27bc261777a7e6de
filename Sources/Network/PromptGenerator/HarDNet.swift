/// The HarDNet backbone of g up to its stride-16 stage, as the authors' `base` ModuleList:
/// module i is named `<prefix>base.i` (stem ConvLayers, max pools / DWConv downsamplers,
/// HarDBlocks, transition ConvLayers), so an ImageNet HarDNet state dict loads by name.
/// Returns the stage outputs at strides 4, 8 and 16 (the decoder's inputs; the stride-2
/// output is computed on the way but AutoSAM's decoder does not read it).
struct HarDNet {
    enum Module {
        case conv(ConvLayer, stride: Int)
        case dwconv(DWConvLayer)
        case maxPool(kernel: Int, stride: Int, padding: Int)
        case block(HarDBlock)
    }
    enum ModuleCache {
        case conv(ConvLayer.Cache)
        case dwconv(DWConvLayer.Cache)
        case maxPool(argmax: [Int32], inputShape: [Int])
        case block(HarDBlock.Cache)
    }

    let modules: [Module]
    /// Indices into `modules` of the stage outputs at strides 2, 4, 8, 16.
    let stageIndices: [Int]
    let stageChannels: [Int]

    init(_ v: HarDNetVariant, _ store: ParameterStore, _ buffers: BufferStore, prefix: String,
         context: ExecutionContext, rng: inout SeededRNG) {
        var mods: [Module] = [], stages: [Int] = [], widths: [Int] = []
        func name() -> String { "\(prefix)base.\(mods.count)" }
        mods.append(.conv(ConvLayer(store, buffers, name(), in: 3, out: v.firstChannels.0, kernel: 3, stride: 2,
                                    context: context, rng: &rng), stride: 2))
        mods.append(.conv(ConvLayer(store, buffers, name(), in: v.firstChannels.0, out: v.firstChannels.1,
                                    kernel: v.depthwise ? 1 : 3, context: context, rng: &rng), stride: 1))
        var ch = v.firstChannels.1
        /// Records the stage output before a downsampling; false once stride 16 is complete.
        func downsample(_ mods: inout [Module], kernel: Int, padding: Int) -> Bool {
            stages.append(mods.count - 1)
            widths.append(ch)
            if stages.count == 4 { return false }
            if v.depthwise {
                mods.append(.dwconv(DWConvLayer(store, buffers, "\(prefix)base.\(mods.count)", channels: ch,
                                                stride: 2, context: context, rng: &rng)))
            } else {
                mods.append(.maxPool(kernel: kernel, stride: 2, padding: padding))
            }
            return true
        }
        var building = downsample(&mods, kernel: 3, padding: 1)
        for b in v.blocks where building {
            let blk = HarDBlock(store, buffers, name(), in: ch, growth: b.growth, grmul: v.grmul, layers: b.layers,
                                depthwise: v.depthwise, context: context, rng: &rng)
            mods.append(.block(blk))
            mods.append(.conv(ConvLayer(store, buffers, name(), in: blk.outChannels, out: b.transition, kernel: 1,
                                        context: context, rng: &rng), stride: 1))
            ch = b.transition
            if b.downsample { building = downsample(&mods, kernel: 2, padding: 0) }
        }
        precondition(stages.count == 4, "HarDNet \(v.name): the blocks reach only \(stages.count) of 4 stages")
        modules = mods
        stageIndices = stages
        stageChannels = widths
    }

    /// (x4, x8, x16) and the caches of every module.
    func forward(_ x: Tensor, training: Bool) throws -> (stages: [Tensor], caches: CacheStack<ModuleCache>) {
        let caches = CacheStack<ModuleCache>(capacity: modules.count)
        let stages = try run(x) { m, h in
            switch m {
            case let .conv(c, _):
                let (y, cc) = try c.forward(h, training: training); caches.push(.conv(cc)); return y
            case let .dwconv(c):
                let (y, cc) = try c.forward(h, training: training); caches.push(.dwconv(cc)); return y
            case let .maxPool(k, s, p):
                let r = Pool2D.maxForward(h, kernel: k, stride: s, padding: p)
                caches.push(.maxPool(argmax: r.argmax, inputShape: h.shape)); return r.y
            case let .block(b):
                let (y, cc) = try b.forward(h, training: training); caches.push(.block(cc)); return y
            }
        }
        return (stages, caches)
    }

    /// (x4, x8, x16) in eval mode without caches (BatchNorm folded, activations fused).
    func infer(_ x: Tensor) throws -> [Tensor] {
        try run(x) { m, h in
            switch m {
            case let .conv(c, _): return try c.infer(h)
            case let .dwconv(c): return try c.infer(h)
            case let .maxPool(k, s, p): return Pool2D.maxForward(h, kernel: k, stride: s, padding: p).y
            case let .block(b): return try b.infer(h)
            }
        }
    }

    /// Chains the modules through `apply` and returns the stage outputs at strides 4, 8, 16.
    private func run(_ x: Tensor, _ apply: (Module, Tensor) throws -> Tensor) rethrows -> [Tensor] {
        var h = x, outs: [Tensor] = []
        for (i, m) in modules.enumerated() {
            h = try apply(m, h)
            if stageIndices.dropFirst().contains(i) { outs.append(h) }
        }
        return outs
    }

    /// Gradients of (x4, x8, x16) in; parameter gradients accumulated. The image gets none.
    /// Consumes `caches`, releasing each module's as soon as its backward has run.
    func backward(_ dStages: [Tensor], _ caches: CacheStack<ModuleCache>) throws {
        precondition(caches.count == modules.count, "HarDNet.backward: the caches were already consumed")
        var g: Tensor? = nil
        let taps = Array(stageIndices.dropFirst())
        for i in stride(from: modules.count - 1, through: 0, by: -1) {
            if let s = taps.firstIndex(of: i) {
                if g == nil { g = dStages[s] } else { Elementwise.addInPlace(&g!, dStages[s]) }
            }
            let cache = caches.pop()
            guard let dy = g else { continue }
            switch (modules[i], cache) {
            case let (.conv(c, _), .conv(cc)): g = try c.backward(dy, cc, needInputGrad: i > 0)
            case let (.dwconv(c), .dwconv(cc)): g = try c.backward(dy, cc)
            case let (.maxPool, .maxPool(argmax, shape)): g = Pool2D.maxBackward(dy, argmax: argmax, inputShape: shape)
            case let (.block(b), .block(cc)): g = try b.backward(dy, cc)
            default: preconditionFailure("HarDNet.backward: cache does not match module \(i)")
            }
        }
    }
}
