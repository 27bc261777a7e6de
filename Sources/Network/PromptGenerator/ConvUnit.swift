/// A 2-D convolution whose weight (and optional bias) live in a `ParameterStore`.
/// Initialised like PyTorch's nn.Conv2d: kaiming-uniform with a = √5, i.e. weight and bias
/// uniform in ±1/√fan_in with fan_in = (C/groups)·kH·kW.
struct ConvUnit {
    let store: ParameterStore
    let weight: Parameter
    let bias: Parameter?
    let geometry: Conv2DGeometry

    init(_ store: ParameterStore, _ name: String, in inC: Int, out outC: Int, kernel: Int,
         stride: Int = 1, padding: Int = 0, groups: Int = 1, bias hasBias: Bool, rng: inout SeededRNG) {
        let fanIn = inC / groups * kernel * kernel
        let bound = 1 / Float(fanIn).squareRoot()
        self.store = store
        weight = store.register(name + ".weight",
                                .uniform([outC, inC / groups, kernel, kernel], rng: &rng, lo: -bound, hi: bound))
        bias = hasBias ? store.register(name + ".bias", .uniform([outC], rng: &rng, lo: -bound, hi: bound)) : nil
        geometry = Conv2DGeometry(stride: stride, padding: padding, groups: groups)
    }

    func forward(_ x: Tensor) -> Tensor {
        let y = Conv2D.forward(x, weight: store.tensor(weight), bias: bias.map(store.tensor), geometry)
        if ConvFLOPCounter.isCounting { ConvFLOPCounter.multiplyAdds += macs(y) }
        return y
    }

    /// Multiply-adds of one pass (forward, backward-data or backward-weights) producing `y`.
    func macs(_ y: Tensor) -> Double { Double(y.count) * Double(weight.shape[1] * weight.shape[2] * weight.shape[3]) }

    /// Accumulates dW (and db) into the store; returns dx unless `needInputGrad` is false.
    func backward(_ dy: Tensor, input x: Tensor, needInputGrad: Bool = true) -> Tensor? {
        let g = Conv2D.backward(dy, input: x, weight: store.tensor(weight), geometry, needInputGrad: needInputGrad)
        if ConvFLOPCounter.isCounting { ConvFLOPCounter.multiplyAdds += macs(dy) * (needInputGrad ? 2 : 1) }
        store.accumulateGrad(weight, g.dWeight)
        if let bias { store.accumulateGrad(bias, g.dBias) }
        return g.dx
    }
}

/// Opt-in count of the multiply-adds g's convolutions perform (forward and backward), for
/// `bench train`'s GFLOP/s figure. Off by default; one training thread toggles it around a pass.
public enum ConvFLOPCounter {
    public static var isCounting = false
    public static var multiplyAdds: Double = 0
}
