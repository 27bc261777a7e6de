/// h, the surrogate decoder (the authors' `ModelH`): maps g's 256×64×64 embedding to
/// 1×256×256 mask logits:
///   `conv1` ConvT(256→64, k3, s2, p1, output padding 1) → `norm1` LayerNorm2d → GELU →
///   `conv2` ConvT(64→16, k2, s2) → `norm2` LayerNorm2d → GELU → `conv3` 1×1 (16→1).
/// Trainable, with its own `ParameterStore` named as ModelH's state dict. PyTorch default
/// init: convolutions uniform ±1/√fan_in (a ConvTranspose2d's fan_in is Cout·k², from its
/// weight's dimension 1), LayerNorm γ = 1, β = 0. Its convolutions run on `context.convolution`.
public final class SurrogateDecoder {
    public let store: ParameterStore
    public let context: ExecutionContext
    let conv1w, conv1b, norm1w, norm1b, conv2w, conv2b, norm2w, norm2b, conv3w, conv3b: Parameter
    let t1 = ConvTranspose2DGeometry(stride: 2, padding: 1, outputPadding: 1)
    let t2 = ConvTranspose2DGeometry(stride: 2)

    public struct Cache {
        let x, a1: Tensor; let s1: NormStats; let n1, g1, a2: Tensor; let s2: NormStats; let n2, g2: Tensor
    }

    public init(store: ParameterStore = ParameterStore(), inChannels: Int = 256, context: ExecutionContext,
                rng: inout SeededRNG) {
        self.store = store
        self.context = context
        func uniform(_ shape: [Int], fanIn: Int, _ rng: inout SeededRNG) -> Tensor {
            let b = 1 / Float(fanIn).squareRoot()
            return .uniform(shape, rng: &rng, lo: -b, hi: b)
        }
        conv1w = store.register("conv1.weight", uniform([inChannels, 64, 3, 3], fanIn: 64 * 9, &rng))
        conv1b = store.register("conv1.bias", uniform([64], fanIn: 64 * 9, &rng))
        norm1w = store.register("norm1.weight", Tensor(shape: [64], repeating: 1))
        norm1b = store.register("norm1.bias", Tensor(zeros: [64]))
        conv2w = store.register("conv2.weight", uniform([64, 16, 2, 2], fanIn: 16 * 4, &rng))
        conv2b = store.register("conv2.bias", uniform([16], fanIn: 16 * 4, &rng))
        norm2w = store.register("norm2.weight", Tensor(shape: [16], repeating: 1))
        norm2b = store.register("norm2.bias", Tensor(zeros: [16]))
        conv3w = store.register("conv3.weight", uniform([1, 16, 1, 1], fanIn: 16, &rng))
        conv3b = store.register("conv3.bias", uniform([1], fanIn: 16, &rng))
    }

    /// z [N, 256, 64, 64] → logits [N, 1, 256, 256] (any H×W → 4H×4W).
    public func forward(_ z: Tensor) throws -> (Tensor, Cache) {
        let s = store, backend = context.convolution
        let a1 = try ConvTranspose2D.forward(z, weight: s.tensor(conv1w), bias: s.tensor(conv1b), t1, backend: backend)
        let (n1, s1) = LayerNorm2D.forward(a1, gamma: s.tensor(norm1w), beta: s.tensor(norm1b))
        let g1 = GELU.forward(n1)
        let a2 = try ConvTranspose2D.forward(g1, weight: s.tensor(conv2w), bias: s.tensor(conv2b), t2, backend: backend)
        let (n2, s2) = LayerNorm2D.forward(a2, gamma: s.tensor(norm2w), beta: s.tensor(norm2b))
        let g2 = GELU.forward(n2)
        let y = try Conv2D.forward(g2, weight: s.tensor(conv3w), bias: s.tensor(conv3b), Conv2DGeometry(), backend: backend)
        return (y, Cache(x: z, a1: a1, s1: s1, n1: n1, g1: g1, a2: a2, s2: s2, n2: n2, g2: g2))
    }

    /// Accumulates parameter gradients into `store.grads`; returns dL/dz.
    @discardableResult
    public func backward(_ dy: Tensor, _ c: Cache) throws -> Tensor {
        try backward(dy, c, needInputGrad: true)!
    }

    /// Accumulates parameter gradients only, skipping dL/dz (one transposed convolution's
    /// worth of work): for training h on a frozen g.
    public func backwardParameters(_ dy: Tensor, _ c: Cache) throws {
        try backward(dy, c, needInputGrad: false)
    }

    @discardableResult
    func backward(_ dy: Tensor, _ c: Cache, needInputGrad: Bool) throws -> Tensor? {
        let s = store, backend = context.convolution
        let b3 = try Conv2D.backward(dy, input: c.g2, weight: s.tensor(conv3w), Conv2DGeometry(), backend: backend)
        s.accumulateGrad(conv3w, b3.dWeight); s.accumulateGrad(conv3b, b3.dBias)
        let ln2 = LayerNorm2D.backward(GELU.backward(b3.dx!, input: c.n2), input: c.a2,
                                       gamma: s.tensor(norm2w), stats: c.s2)
        s.accumulateGrad(norm2w, ln2.dGamma); s.accumulateGrad(norm2b, ln2.dBeta)
        let b2 = try ConvTranspose2D.backward(ln2.dx, input: c.g1, weight: s.tensor(conv2w), t2, backend: backend)
        s.accumulateGrad(conv2w, b2.dWeight); s.accumulateGrad(conv2b, b2.dBias)
        let ln1 = LayerNorm2D.backward(GELU.backward(b2.dx!, input: c.n1), input: c.a1,
                                       gamma: s.tensor(norm1w), stats: c.s1)
        s.accumulateGrad(norm1w, ln1.dGamma); s.accumulateGrad(norm1b, ln1.dBeta)
        let b1 = try ConvTranspose2D.backward(ln1.dx, input: c.x, weight: s.tensor(conv1w), t1, needInputGrad: needInputGrad,
                                              backend: backend)
        s.accumulateGrad(conv1w, b1.dWeight); s.accumulateGrad(conv1b, b1.dBias)
        return b1.dx
    }
}
