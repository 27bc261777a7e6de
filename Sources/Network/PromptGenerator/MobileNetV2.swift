/// torchvision's MobileNetV2 (width 1.0) up to its stride-16 stage, `features.0` … `features.13`,
/// with torchvision's state-dict names (`<prefix>features.N.…`), so its ImageNet checkpoint loads
/// by name (`features.14`–`18` and `classifier` are ignored). Stage outputs: features.1 (16
/// channels, stride 2), features.3 (24, stride 4), features.6 (32, stride 8), features.13 (96,
/// stride 16). Its input is an ImageNet-normalised RGB image.
struct MobileNetV2 {
    /// torchvision's inverted-residual settings (expansion t, channels c, repeats n, first stride s).
    static let settings: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]
    /// The features modules whose outputs are the stages at strides 2, 4, 8, 16; the last is the
    /// last module built.
    static let stageModules = [1, 3, 6, 13]
    static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    enum ModuleCache {
        case stem(ConvLayer.Cache)
        case block(InvertedResidual.Cache)
    }

    let stem: ConvLayer
    /// features.1 … features.13.
    let blocks: [InvertedResidual]
    let stageChannels: [Int]

    init(_ store: ParameterStore, _ buffers: BufferStore, prefix: String, context: ExecutionContext, rng: inout SeededRNG) {
        stem = ConvLayer(store, buffers, "\(prefix)features.0", in: 3, out: 32, kernel: 3, stride: 2, names: ("0", "1"),
                         context: context, rng: &rng)
        var blocks: [InvertedResidual] = [], widths: [Int] = [], ch = 32
        outer: for (t, c, n, s) in Self.settings {
            for i in 0..<n {
                let index = blocks.count + 1
                if index > Self.stageModules.last! { break outer }
                blocks.append(InvertedResidual(store, buffers, "\(prefix)features.\(index)", in: ch, out: c,
                                               stride: i == 0 ? s : 1, expansion: t, context: context, rng: &rng))
                ch = c
                if Self.stageModules.contains(index) { widths.append(c) }
            }
        }
        self.blocks = blocks
        stageChannels = widths
    }

    /// (x − mean) / std per channel, for an RGB image in [0, 1].
    static func normalizeImageNet(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.dim(1) == 3, "MobileNetV2: want an RGB batch [N, 3, H, W], got \(x.shape)")
        var y = x
        let plane = x.dim(2) * x.dim(3)
        y.data.withUnsafeMutableBufferPointer { p in
            for n in 0..<x.dim(0) {
                for c in 0..<3 {
                    let m = imageNetMean[c], inv = 1 / imageNetStd[c], base = (n * 3 + c) * plane
                    for i in base..<(base + plane) { p[i] = (p[i] - m) * inv }
                }
            }
        }
        return y
    }

    /// (x4, x8, x16) and the caches of every module.
    func forward(_ x: Tensor, training: Bool) throws -> (stages: [Tensor], caches: CacheStack<ModuleCache>) {
        let caches = CacheStack<ModuleCache>(capacity: blocks.count + 1)
        var (h, sc) = try stem.forward(x, training: training)
        caches.push(.stem(sc))
        var stages: [Tensor] = []
        for (i, b) in blocks.enumerated() {
            let (y, bc) = try b.forward(h, training: training)
            caches.push(.block(bc))
            h = y
            if Self.stageModules.dropFirst().contains(i + 1) { stages.append(h) }
        }
        return (stages, caches)
    }

    /// (x4, x8, x16) in eval mode without caches (BatchNorm folded, ReLU6 fused).
    func infer(_ x: Tensor) throws -> [Tensor] {
        var h = try stem.infer(x), stages: [Tensor] = []
        for (i, b) in blocks.enumerated() {
            h = try b.infer(h)
            if Self.stageModules.dropFirst().contains(i + 1) { stages.append(h) }
        }
        return stages
    }

    /// Gradients of (x4, x8, x16) in; parameter gradients accumulated. The image gets none.
    func backward(_ dStages: [Tensor], _ caches: CacheStack<ModuleCache>) throws {
        precondition(caches.count == blocks.count + 1, "MobileNetV2.backward: the caches were already consumed")
        var g: Tensor? = nil
        for i in stride(from: blocks.count, through: 0, by: -1) {
            if let s = Self.stageModules.dropFirst().firstIndex(of: i) {
                let d = dStages[s - 1]
                if g == nil { g = d } else { Elementwise.addInPlace(&g!, d) }
            }
            let cache = caches.pop()
            guard let dy = g else { continue }
            switch cache {
            case let .block(bc): g = try blocks[i - 1].backward(dy, bc)
            case let .stem(sc): _ = try stem.backward(dy, sc, needInputGrad: false)
            }
        }
    }
}

/// torchvision's InvertedResidual, `<name>.conv.…`: a 1×1 expansion ConvLayer (`conv.0`, absent
/// when t = 1), a depthwise 3×3 ConvLayer, a linear 1×1 projection and its BatchNorm; the input
/// is added back when the stride is 1 and the widths match.
struct InvertedResidual {
    let expand: ConvLayer?
    let depthwise: ConvLayer
    let project: ConvUnit
    let projectNorm: BatchNormUnit
    let residual: Bool

    struct Cache {
        let expand: ConvLayer.Cache?
        let depthwise: ConvLayer.Cache
        let projectOut: Tensor
        let stats: NormStats?
    }

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, in inC: Int, out outC: Int, stride: Int,
         expansion t: Int, context: ExecutionContext, rng: inout SeededRNG) {
        let hidden = inC * t
        var k = 0
        if t != 1 {
            expand = ConvLayer(store, buffers, "\(name).conv.0", in: inC, out: hidden, kernel: 1, names: ("0", "1"),
                               context: context, rng: &rng)
            k = 1
        } else {
            expand = nil
        }
        depthwise = ConvLayer(store, buffers, "\(name).conv.\(k)", in: hidden, out: hidden, kernel: 3, stride: stride,
                              groups: hidden, names: ("0", "1"), context: context, rng: &rng)
        project = ConvUnit(store, "\(name).conv.\(k + 1)", in: hidden, out: outC, kernel: 1, bias: false,
                           context: context, rng: &rng)
        projectNorm = BatchNormUnit(store, buffers, "\(name).conv.\(k + 2)", channels: outC)
        residual = stride == 1 && inC == outC
    }

    func forward(_ x: Tensor, training: Bool) throws -> (Tensor, Cache) {
        var ec: ConvLayer.Cache? = nil, h = x
        if let expand { (h, ec) = try expand.forward(x, training: training) }
        let (d, dc) = try depthwise.forward(h, training: training)
        let p = try project.forward(d)
        var (y, stats) = try projectNorm.forward(p, training: training)
        if residual { Elementwise.addInPlace(&y, x) }
        return (y, Cache(expand: ec, depthwise: dc, projectOut: p, stats: stats))
    }

    /// Eval mode without caches: each BatchNorm folded into its convolution.
    func infer(_ x: Tensor) throws -> Tensor {
        let h = try expand?.infer(x) ?? x
        let d = try depthwise.infer(h)
        let f = projectNorm.fold(weight: project.store.tensor(project.weight), bias: nil)
        var y = try Conv2D.forward(d, weight: f.weight, bias: f.bias, project.geometry, backend: project.backend)
        if residual { Elementwise.addInPlace(&y, x) }
        return y
    }

    /// dL/dx; parameter gradients accumulated.
    func backward(_ dy: Tensor, _ c: Cache) throws -> Tensor {
        let dp = try projectNorm.backward(dy, input: c.projectOut, stats: c.stats)
        let dd = try project.backward(dp, input: c.depthwise.y)!
        var dx = try depthwise.backward(dd, c.depthwise)!
        if let expand, let ec = c.expand { dx = try expand.backward(dx, ec)! }
        if residual { Elementwise.addInPlace(&dx, dy) }
        return dx
    }
}
