/// The authors' CNNBlock as their forward uses it: `conv1` 3×3 → `BN1` → ReLU → `conv2` 3×3
/// (both convs with bias). Their `BN2` is constructed but never applied, so it has no
/// parameters here (a state dict's `BN2.*` entries are ignored on load).
struct CNNBlock {
    let conv1, conv2: ConvUnit
    let bn1: BatchNormUnit

    struct Cache { let x, c1: Tensor; let stats: NormStats?; let r: Tensor }

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, in inC: Int, out outC: Int,
         context: ExecutionContext, rng: inout SeededRNG) {
        conv1 = ConvUnit(store, name + ".conv1", in: inC, out: outC, kernel: 3, padding: 1, bias: true,
                         context: context, rng: &rng)
        conv2 = ConvUnit(store, name + ".conv2", in: outC, out: outC, kernel: 3, padding: 1, bias: true,
                         context: context, rng: &rng)
        bn1 = BatchNormUnit(store, buffers, name + ".BN1", channels: outC)
    }

    func forward(_ x: Tensor, training: Bool) throws -> (Tensor, Cache) {
        let c1 = try conv1.forward(x)
        let (n, stats) = try bn1.forward(c1, training: training)
        let r = ReLU.forward(n)
        return (try conv2.forward(r), Cache(x: x, c1: c1, stats: stats, r: r))
    }

    /// Eval mode without caches: BN1 folded into conv1, the ReLU fused into it.
    func infer(_ x: Tensor) throws -> Tensor {
        let f = bn1.fold(weight: conv1.store.tensor(conv1.weight), bias: conv1.bias.map(conv1.store.tensor))
        return try conv2.forward(Conv2D.forward(x, weight: f.weight, bias: f.bias, conv1.geometry, activation: .relu,
                                                backend: conv1.backend))
    }

    /// ReLU's mask on its output (y > 0 ⇔ x > 0) saves keeping the BatchNorm output.
    func backward(_ dy: Tensor, _ c: Cache) throws -> Tensor {
        let dr = try conv2.backward(dy, input: c.r)!
        let dn = ReLU.backward(dr, input: c.r)
        return try conv1.backward(bn1.backward(dn, input: c.c1, stats: c.stats), input: c.x)!
    }
}
