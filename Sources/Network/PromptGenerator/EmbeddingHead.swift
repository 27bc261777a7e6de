/// What g reads (`generator.input`): the image through its backbone and decoder (the paper's
/// g), SAM's frozen image embedding through a small head, or both joined at the embedding's
/// 64×64 scale before g's last block.
public enum GeneratorInput: String, Codable, Sendable, CaseIterable {
    case image, embedding, both
}

/// g's head on SAM's frozen image embedding [N, 256, 64, 64]: `conv1` 3×3 → `BN1` → ReLU →
/// `conv2` 3×3 → `BN2` → ReLU (convolutions without bias, BatchNorm follows), `width`
/// channels out. The embedding already carries SAM's pretrained features, so a few layers
/// suffice, and it costs little per step since the embedding is cached.
struct EmbeddingHead {
    static let width = 96
    let conv1, conv2: ConvUnit
    let bn1, bn2: BatchNormUnit

    struct Cache { let e, c1: Tensor; let s1: NormStats?; let r1, c2: Tensor; let s2: NormStats?; let r2: Tensor }

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, in inC: Int, width: Int = EmbeddingHead.width,
         context: ExecutionContext, rng: inout SeededRNG) {
        conv1 = ConvUnit(store, name + ".conv1", in: inC, out: width, kernel: 3, padding: 1, bias: false,
                         context: context, rng: &rng)
        bn1 = BatchNormUnit(store, buffers, name + ".BN1", channels: width)
        conv2 = ConvUnit(store, name + ".conv2", in: width, out: width, kernel: 3, padding: 1, bias: false,
                         context: context, rng: &rng)
        bn2 = BatchNormUnit(store, buffers, name + ".BN2", channels: width)
    }

    func forward(_ e: Tensor, training: Bool) throws -> (Tensor, Cache) {
        let c1 = try conv1.forward(e)
        let (n1, s1) = try bn1.forward(c1, training: training)
        let r1 = ReLU.forward(n1)
        let c2 = try conv2.forward(r1)
        let (n2, s2) = try bn2.forward(c2, training: training)
        let r2 = ReLU.forward(n2)
        return (r2, Cache(e: e, c1: c1, s1: s1, r1: r1, c2: c2, s2: s2, r2: r2))
    }

    /// Eval mode without caches: each BatchNorm folded into its convolution, ReLU fused.
    func infer(_ e: Tensor) throws -> Tensor {
        let f1 = bn1.fold(weight: conv1.store.tensor(conv1.weight), bias: nil)
        let f2 = bn2.fold(weight: conv2.store.tensor(conv2.weight), bias: nil)
        let r1 = try Conv2D.forward(e, weight: f1.weight, bias: f1.bias, conv1.geometry, activation: .relu, backend: conv1.backend)
        return try Conv2D.forward(r1, weight: f2.weight, bias: f2.bias, conv2.geometry, activation: .relu, backend: conv2.backend)
    }

    /// Parameter gradients accumulated; the frozen embedding gets none. ReLU's mask is read
    /// from its output (y > 0 ⇔ x > 0).
    func backward(_ dy: Tensor, _ c: Cache) throws {
        let dn2 = ReLU.backward(dy, input: c.r2)
        let dr1 = try conv2.backward(bn2.backward(dn2, input: c.c2, stats: c.s2), input: c.r1)!
        let dn1 = ReLU.backward(dr1, input: c.r1)
        _ = try conv1.backward(bn1.backward(dn1, input: c.c1, stats: c.s1), input: c.e, needInputGrad: false)
    }
}
