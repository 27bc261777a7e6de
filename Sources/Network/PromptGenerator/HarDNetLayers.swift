/// HarDNet's building layers, named as in the authors' hardnet.py:
///   ConvLayer    `conv` (no bias, padding k/2) → `norm` (BatchNorm) → ReLU6 (with the names
///                `0`, `1` and groups it is also torchvision's Conv2dNormActivation in MobileNetV2);
///   DWConvLayer  `dwconv` (depthwise 3×3, padding 1, no bias) → `norm` (no activation);
///   CombConvLayer `layer1` = ConvLayer 1×1 → `layer2` = DWConvLayer (HarDNet-DS blocks).
struct ConvLayer {
    let conv: ConvUnit
    let norm: BatchNormUnit

    /// `x` may be dropped (nil) by a caller that can rebuild the input for backward.
    struct Cache { var x: Tensor?; let convOut: Tensor; let stats: NormStats?; let y: Tensor }

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, in inC: Int, out outC: Int,
         kernel: Int = 3, stride: Int = 1, groups: Int = 1, names: (conv: String, norm: String) = ("conv", "norm"),
         context: ExecutionContext, rng: inout SeededRNG) {
        conv = ConvUnit(store, "\(name).\(names.conv)", in: inC, out: outC, kernel: kernel, stride: stride,
                        padding: kernel / 2, groups: groups, bias: false, context: context, rng: &rng)
        norm = BatchNormUnit(store, buffers, "\(name).\(names.norm)", channels: outC)
    }

    func forward(_ x: Tensor, training: Bool) throws -> (Tensor, Cache) {
        let c = try conv.forward(x)
        let (n, stats) = try norm.forward(c, training: training)
        let y = ReLU6.forward(n)
        return (y, Cache(x: x, convOut: c, stats: stats, y: y))
    }

    /// Eval mode, nothing kept: BatchNorm folded into the convolution, ReLU6 fused into it.
    func infer(_ x: Tensor) throws -> Tensor {
        let f = norm.fold(weight: conv.store.tensor(conv.weight), bias: nil)
        return try Conv2D.forward(x, weight: f.weight, bias: f.bias, conv.geometry, activation: .relu6, backend: conv.backend)
    }

    /// ReLU6's gradient mask is the same on its output (0 < y < 6 ⇔ 0 < x < 6), so the
    /// BatchNorm output need not be kept.
    func backward(_ dy: Tensor, _ c: Cache, input: Tensor? = nil, needInputGrad: Bool = true) throws -> Tensor? {
        guard let x = input ?? c.x else { preconditionFailure("ConvLayer.backward: the input was dropped and not given") }
        let dn = ReLU6.backward(dy, input: c.y)
        let dc = try norm.backward(dn, input: c.convOut, stats: c.stats)
        return try conv.backward(dc, input: x, needInputGrad: needInputGrad)
    }
}

struct DWConvLayer {
    let dwconv: ConvUnit
    let norm: BatchNormUnit

    struct Cache { let x, convOut: Tensor; let stats: NormStats? }

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, channels: Int, stride: Int = 1,
         context: ExecutionContext, rng: inout SeededRNG) {
        dwconv = ConvUnit(store, name + ".dwconv", in: channels, out: channels, kernel: 3, stride: stride,
                          padding: 1, groups: channels, bias: false, context: context, rng: &rng)
        norm = BatchNormUnit(store, buffers, name + ".norm", channels: channels)
    }

    func forward(_ x: Tensor, training: Bool) throws -> (Tensor, Cache) {
        let c = try dwconv.forward(x)
        let (y, stats) = try norm.forward(c, training: training)
        return (y, Cache(x: x, convOut: c, stats: stats))
    }

    /// Eval mode, nothing kept: BatchNorm folded into the depthwise convolution.
    func infer(_ x: Tensor) throws -> Tensor {
        let f = norm.fold(weight: dwconv.store.tensor(dwconv.weight), bias: nil)
        return try Conv2D.forward(x, weight: f.weight, bias: f.bias, dwconv.geometry, backend: dwconv.backend)
    }

    func backward(_ dy: Tensor, _ c: Cache) throws -> Tensor {
        try dwconv.backward(norm.backward(dy, input: c.convOut, stats: c.stats), input: c.x)!
    }
}

struct CombConvLayer {
    let layer1: ConvLayer
    let layer2: DWConvLayer

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, in inC: Int, out outC: Int,
         context: ExecutionContext, rng: inout SeededRNG) {
        layer1 = ConvLayer(store, buffers, name + ".layer1", in: inC, out: outC, kernel: 1, context: context, rng: &rng)
        layer2 = DWConvLayer(store, buffers, name + ".layer2", channels: outC, context: context, rng: &rng)
    }

    func forward(_ x: Tensor, training: Bool) throws -> (Tensor, (ConvLayer.Cache, DWConvLayer.Cache)) {
        let (a, ca) = try layer1.forward(x, training: training)
        let (y, cb) = try layer2.forward(a, training: training)
        return (y, (ca, cb))
    }

    func infer(_ x: Tensor) throws -> Tensor { try layer2.infer(layer1.infer(x)) }

    func backward(_ dy: Tensor, _ c: (ConvLayer.Cache, DWConvLayer.Cache), input: Tensor? = nil) throws -> Tensor {
        try layer1.backward(layer2.backward(dy, c.1), c.0, input: input)!
    }
}
