/// A 2-D convolution whose weight (and optional bias) live in a `ParameterStore`.
/// Initialised like PyTorch's nn.Conv2d: kaiming-uniform with a = √5, i.e. weight and bias
/// uniform in ±1/√fan_in with fan_in = (C/groups)·kH·kW. Runs on its model's convolution backend.
struct ConvUnit {
    let store: ParameterStore
    let weight: Parameter
    let bias: Parameter?
    let geometry: Conv2DGeometry
    let backend: any ConvBackend

    init(_ store: ParameterStore, _ name: String, in inC: Int, out outC: Int, kernel: Int,
         stride: Int = 1, padding: Int = 0, groups: Int = 1, bias hasBias: Bool, context: ExecutionContext,
         rng: inout SeededRNG) {
        let fanIn = inC / groups * kernel * kernel
        let bound = 1 / Float(fanIn).squareRoot()
        self.store = store
        weight = store.register(name + ".weight",
                                .uniform([outC, inC / groups, kernel, kernel], rng: &rng, lo: -bound, hi: bound))
        bias = hasBias ? store.register(name + ".bias", .uniform([outC], rng: &rng, lo: -bound, hi: bound)) : nil
        geometry = Conv2DGeometry(stride: stride, padding: padding, groups: groups)
        backend = context.convolution
    }

    func forward(_ x: Tensor) throws -> Tensor {
        try Conv2D.forward(x, weight: store.tensor(weight), bias: bias.map(store.tensor), geometry, backend: backend)
    }

    /// Accumulates dW (and db) into the store; returns dx unless `needInputGrad` is false.
    /// When the store keeps samples apart, each sample runs alone (its own dW, and a dx that
    /// cannot depend on the other samples' kernel choices).
    func backward(_ dy: Tensor, input x: Tensor, needInputGrad: Bool = true) throws -> Tensor? {
        if store.samples > 0 { return try backwardPerSample(dy, input: x, needInputGrad: needInputGrad) }
        let g = try Conv2D.backward(dy, input: x, weight: store.tensor(weight), geometry, needInputGrad: needInputGrad,
                                    backend: backend)
        store.accumulateGrad(weight, g.dWeight)
        if let bias { store.accumulateGrad(bias, g.dBias) }
        return g.dx
    }

    func backwardPerSample(_ dy: Tensor, input x: Tensor, needInputGrad: Bool) throws -> Tensor? {
        let n = x.shape[0]
        precondition(n == store.samples, "ConvUnit: \(n) samples, the store keeps \(store.samples) apart")
        let w = store.tensor(weight)
        var dx = needInputGrad ? [Float](repeating: 0, count: x.count) : []
        for s in 0..<n {
            let g = try Conv2D.backward(dy.sample(s), input: x.sample(s), weight: w, geometry, needInputGrad: needInputGrad,
                                        backend: backend)
            g.dWeight.data.withUnsafeBufferPointer { store.accumulateGrad(weight, sample: s, $0) }
            if let bias { g.dBias.data.withUnsafeBufferPointer { store.accumulateGrad(bias, sample: s, $0) } }
            if let d = g.dx { dx.replaceSubrange((s * d.count)..<((s + 1) * d.count), with: d.data) }
        }
        return needInputGrad ? Tensor(shape: x.shape, data: dx) : nil
    }
}
