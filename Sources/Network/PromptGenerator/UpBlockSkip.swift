/// The authors' UpBlockSkip (func 'relu', dropout 0): bilinear ×2 (align_corners false) of
/// the deeper input, concatenated with the skip, then `conv1` 3×3 → `conv2` 3×3 (both with
/// bias, no activation between) → `BN` → leaky ReLU (slope 0.01).
struct UpBlockSkip {
    let conv1, conv2: ConvUnit
    let bn: BatchNormUnit

    struct Cache {
        let inputShape: [Int]
        let skipChannels: Int
        let cat, c1, c2: Tensor
        let stats: NormStats?
        let n: Tensor
    }

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, in inC: Int, out outC: Int,
         context: ExecutionContext, rng: inout SeededRNG) {
        conv1 = ConvUnit(store, name + ".conv1", in: inC, out: outC, kernel: 3, padding: 1, bias: true,
                         context: context, rng: &rng)
        conv2 = ConvUnit(store, name + ".conv2", in: outC, out: outC, kernel: 3, padding: 1, bias: true,
                         context: context, rng: &rng)
        bn = BatchNormUnit(store, buffers, name + ".BN", channels: outC)
    }

    func forward(_ x: Tensor, skip: Tensor, training: Bool) throws -> (Tensor, Cache) {
        let up = BilinearResize.forward(x, height: 2 * x.dim(2), width: 2 * x.dim(3), alignCorners: false)
        let cat = Shape.concat([up, skip], axis: 1)
        let c1 = try conv1.forward(cat)
        let c2 = try conv2.forward(c1)
        let (n, stats) = try bn.forward(c2, training: training)
        return (LeakyReLU.forward(n),
                Cache(inputShape: x.shape, skipChannels: skip.dim(1), cat: cat, c1: c1, c2: c2, stats: stats, n: n))
    }

    /// Eval mode without caches: BatchNorm folded into conv2, the leaky ReLU fused into it.
    func infer(_ x: Tensor, skip: Tensor) throws -> Tensor {
        let up = BilinearResize.forward(x, height: 2 * x.dim(2), width: 2 * x.dim(3), alignCorners: false)
        let c1 = try conv1.forward(Shape.concat([up, skip], axis: 1))
        let f = bn.fold(weight: conv2.store.tensor(conv2.weight), bias: conv2.bias.map(conv2.store.tensor))
        return try Conv2D.forward(c1, weight: f.weight, bias: f.bias, conv2.geometry, activation: .leakyReLU(slope: 0.01),
                                  backend: conv2.backend)
    }

    /// Returns (d input, d skip).
    func backward(_ dy: Tensor, _ c: Cache) throws -> (dx: Tensor, dSkip: Tensor) {
        let dn = LeakyReLU.backward(dy, input: c.n)
        let dc2 = try bn.backward(dn, input: c.c2, stats: c.stats)
        let dc1 = try conv2.backward(dc2, input: c.c1)!
        let dcat = try conv1.backward(dc1, input: c.cat)!
        let parts = Shape.concatBackward(dcat, sizes: [c.inputShape[1], c.skipChannels], axis: 1)
        return (BilinearResize.backward(parts[0], inputShape: c.inputShape, alignCorners: false), parts[1])
    }
}
