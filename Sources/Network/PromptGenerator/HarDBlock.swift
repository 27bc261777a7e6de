/// A Harmonic Dense Block (Chao et al., HarDNet, ICCV 2019). Layer k (1-based; layer 0 is the
/// block input) reads the concatenation of layers k − 2^i for every 2^i dividing k, in the
/// order k−1, k−2, k−4, …; its width is growth·grmul^(number of i > 0 linked), rounded to
/// even. The block output concatenates the odd layers and the last one (the input is not
/// kept). Parameters are `<name>.layers.<k−1>.…`.
struct HarDBlock {
    enum Layer {
        case conv(ConvLayer)
        case comb(CombConvLayer)
    }
    enum LayerCache {
        case conv(ConvLayer.Cache)
        case comb(ConvLayer.Cache, DWConvLayer.Cache)
    }

    let layers: [Layer]
    /// links[k − 1] = the layer indices (0 = block input) that layer k reads.
    let links: [[Int]]
    /// widths[k] = channels of layer k (widths[0] = the block input).
    let widths: [Int]
    let outputs: [Int]
    var outChannels: Int { outputs.reduce(0) { $0 + widths[$1] } }

    /// (width of layer k, its links) as in the authors' get_link, in Double like Python.
    static func link(_ layer: Int, baseChannels: Int, growth: Int, grmul: Double) -> (width: Int, links: [Int]) {
        if layer == 0 { return (baseChannels, []) }
        var out = Double(growth)
        var links: [Int] = []
        for i in 0..<10 {
            let dv = 1 << i
            if layer % dv == 0 {
                links.append(layer - dv)
                if i > 0 { out *= grmul }
            }
        }
        return (Int(out + 1) / 2 * 2, links)
    }

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, in inC: Int, growth: Int,
         grmul: Double, layers n: Int, depthwise: Bool, context: ExecutionContext, rng: inout SeededRNG) {
        var widths = [inC], links: [[Int]] = [], layers: [Layer] = []
        for k in 1...n {
            let (w, l) = HarDBlock.link(k, baseChannels: inC, growth: growth, grmul: grmul)
            let inK = l.reduce(0) { $0 + widths[$1] }
            let lname = "\(name).layers.\(k - 1)"
            layers.append(depthwise
                ? .comb(CombConvLayer(store, buffers, lname, in: inK, out: w, context: context, rng: &rng))
                : .conv(ConvLayer(store, buffers, lname, in: inK, out: w, kernel: 3, context: context, rng: &rng)))
            widths.append(w)
            links.append(l)
        }
        self.layers = layers
        self.links = links
        self.widths = widths
        outputs = (0...n).filter { $0 == n || $0 % 2 == 1 }
    }

    /// What backward needs: each layer's cache, and every layer's output (index 0 = the block
    /// input). A layer reading several earlier layers gets their concatenation as input; that
    /// copy is not kept but rebuilt in backward from the outputs, which are kept anyway (as
    /// memory-efficient DenseNets do): the concatenations are most of a block's memory.
    final class Cache {
        let layers: CacheStack<LayerCache>
        var outputs: [Tensor?]
        init(layers: CacheStack<LayerCache>, outputs: [Tensor?]) {
            self.layers = layers
            self.outputs = outputs
        }
    }

    func forward(_ x: Tensor, training: Bool) throws -> (Tensor, Cache) {
        let caches = CacheStack<LayerCache>(capacity: layers.count)
        let (y, outs) = try run(x) { layer, input, concatenated in
            switch layer {
            case let .conv(c):
                var (y, cc) = try c.forward(input, training: training)
                if concatenated { cc.x = nil }
                caches.push(.conv(cc))
                return y
            case let .comb(c):
                var (y, cc) = try c.forward(input, training: training)
                if concatenated { cc.0.x = nil }
                caches.push(.comb(cc.0, cc.1))
                return y
            }
        }
        return (y, Cache(layers: caches, outputs: outs))
    }

    /// Eval mode without caches (BatchNorm folded, activations fused).
    func infer(_ x: Tensor) throws -> Tensor {
        try run(x) { layer, input, _ in
            switch layer {
            case let .conv(c): return try c.infer(input)
            case let .comb(c): return try c.infer(input)
            }
        }.y
    }

    /// Feeds each layer its linked inputs (concatenated when several) through `apply`, which
    /// also learns whether the input is a concatenation; returns the block output and every
    /// layer's output (index 0 = x).
    private func run(_ x: Tensor, _ apply: (Layer, Tensor, Bool) throws -> Tensor) rethrows -> (y: Tensor, outputs: [Tensor]) {
        var outs = [x]
        for (j, layer) in layers.enumerated() {
            let l = links[j]
            let input = l.count == 1 ? outs[l[0]] : Shape.concat(l.map { outs[$0] }, axis: 1)
            outs.append(try apply(layer, input, l.count > 1))
        }
        return (Shape.concat(outputs.map { outs[$0] }, axis: 1), outs)
    }

    /// Walks the layers backwards; a layer's gradient is complete once every later layer
    /// that reads it has been processed. Returns the gradient of the block input. Each
    /// layer's cache is released as soon as its backward has run (as autograd frees saved
    /// tensors), so the step's peak memory is the forward's, not forward + backward.
    func backward(_ dy: Tensor, _ cache: Cache) throws -> Tensor {
        let caches = cache.layers
        precondition(caches.count == layers.count, "HarDBlock.backward: the caches were already consumed")
        var grads = [Tensor?](repeating: nil, count: layers.count + 1)
        for (k, g) in zip(outputs, Shape.concatBackward(dy, sizes: outputs.map { widths[$0] }, axis: 1)) {
            grads[k] = g
        }
        for j in stride(from: layers.count - 1, through: 0, by: -1) {
            let layerCache = caches.pop()
            // Layer j + 1's output has no readers left once its own backward has run.
            defer { cache.outputs[j + 1] = nil }
            guard let dOut = grads[j + 1] else { continue }
            let l = links[j]
            let input = l.count == 1 ? nil : Shape.concat(l.map { cache.outputs[$0]! }, axis: 1)
            let dIn: Tensor
            switch (layers[j], layerCache) {
            case let (.conv(c), .conv(cc)): dIn = try c.backward(dOut, cc, input: input)!
            case let (.comb(c), .comb(a, b)): dIn = try c.backward(dOut, (a, b), input: input)
            default: preconditionFailure("HarDBlock.backward: cache does not match layer \(j)")
            }
            grads[j + 1] = nil
            let pieces = l.count == 1 ? [dIn] : Shape.concatBackward(dIn, sizes: l.map { widths[$0] }, axis: 1)
            for (k, g) in zip(l, pieces) {
                if grads[k] == nil { grads[k] = g } else { Elementwise.addInPlace(&grads[k]!, g) }
            }
        }
        return grads[0]!
    }
}
