/// Layers of the frozen SAM: weights fixed at load time, so backward passes compute only
/// the gradient with respect to the input (no weight-gradient buffers exist).

public struct FrozenLinear {
    public let weight: Tensor   // [out, in]
    public let bias: Tensor?    // [out]

    public init(_ bag: WeightBag, _ prefix: String, in inDim: Int, out outDim: Int, bias hasBias: Bool = true) {
        weight = bag.take(prefix + ".weight", [outDim, inDim])
        bias = hasBias ? bag.take(prefix + ".bias", [outDim]) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Linear.forward(x, weight: weight, bias: bias)
    }

    /// dx = dy · W.
    public func backwardInput(_ dy: Tensor) -> Tensor {
        let outDim = weight.shape[0], inDim = weight.shape[1]
        let rows = dy.count / outDim
        var dx = Tensor(zeros: Array(dy.shape.dropLast()) + [inDim])
        withPointers(dy, weight, mutating: &dx) { d, w, o in
            sgemm(m: rows, n: inDim, k: outDim, a: d, b: w, c: o)
        }
        return dx
    }
}

public struct FrozenLayerNorm {
    public let weight: Tensor, bias: Tensor
    public let eps: Float
    public init(_ bag: WeightBag, _ prefix: String, dim: Int, eps: Float = 1e-5) {
        weight = bag.take(prefix + ".weight", [dim])
        bias = bag.take(prefix + ".bias", [dim])
        self.eps = eps
    }
    public func forward(_ x: Tensor) -> (y: Tensor, stats: NormStats) {
        LayerNorm.forward(x, gamma: weight, beta: bias, eps: eps)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x).y }
    public func backwardInput(_ dy: Tensor, input x: Tensor, stats: NormStats) -> Tensor {
        LayerNorm.backward(dy, input: x, gamma: weight, stats: stats).dx
    }
}

public struct FrozenLayerNorm2D {
    public let weight: Tensor, bias: Tensor
    public let eps: Float
    public init(_ bag: WeightBag, _ prefix: String, channels: Int, eps: Float = 1e-6) {
        weight = bag.take(prefix + ".weight", [channels])
        bias = bag.take(prefix + ".bias", [channels])
        self.eps = eps
    }
    public func forward(_ x: Tensor) -> (y: Tensor, stats: NormStats) {
        LayerNorm2D.forward(x, gamma: weight, beta: bias, eps: eps)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x).y }
    public func backwardInput(_ dy: Tensor, input x: Tensor, stats: NormStats) -> Tensor {
        LayerNorm2D.backward(dy, input: x, gamma: weight, stats: stats).dx
    }
}

/// A frozen convolution, run on the convolution backend of the context it was built with.
/// With `foldBatchNorm`, a following BatchNorm in eval mode is folded into the weights at load
/// time (the encoder is frozen, so this is exact and removes a memory-bound pass per layer).
public struct FrozenConv2D {
    public let weight: Tensor
    public let bias: Tensor?
    public let geometry: Conv2DGeometry
    public let backend: any ConvBackend

    public init(weight: Tensor, bias: Tensor?, geometry: Conv2DGeometry, backend: any ConvBackend) {
        self.weight = weight
        self.bias = bias
        self.geometry = geometry
        self.backend = backend
    }

    public init(_ bag: WeightBag, _ prefix: String, in c: Int, out k: Int, kernel: Int,
                geometry: Conv2DGeometry = .init(), bias hasBias: Bool = true, context: ExecutionContext) {
        weight = bag.take(prefix + ".weight", [k, c / geometry.groups, kernel, kernel])
        bias = hasBias ? bag.take(prefix + ".bias", [k]) : nil
        self.geometry = geometry
        backend = context.convolution
    }

    /// TinyViT's Conv2d_BN: conv (no bias) `prefix.c` followed by BatchNorm `prefix.bn`, folded.
    public static func convBN(_ bag: WeightBag, _ prefix: String, in c: Int, out k: Int, kernel: Int,
                              geometry: Conv2DGeometry = .init(), context: ExecutionContext) -> FrozenConv2D {
        let w = bag.take(prefix + ".c.weight", [k, c / geometry.groups, kernel, kernel])
        let g = bag.take(prefix + ".bn.weight", [k]), b = bag.take(prefix + ".bn.bias", [k])
        let m = bag.take(prefix + ".bn.running_mean", [k]), v = bag.take(prefix + ".bn.running_var", [k])
        bag.ignore { $0 == prefix + ".bn.num_batches_tracked" }
        return folded(weight: w, gamma: g, beta: b, mean: m, variance: v, eps: 1e-5, geometry: geometry,
                      backend: context.convolution)
    }

    public static func folded(weight w: Tensor, gamma g: Tensor, beta b: Tensor, mean m: Tensor, variance v: Tensor,
                              eps: Float, geometry: Conv2DGeometry, backend: any ConvBackend) -> FrozenConv2D {
        let f = BatchNorm2D.foldIntoConvolution(weight: w, bias: nil, gamma: g.data, beta: b.data, mean: m.data,
                                                variance: v.data, eps: eps)
        return FrozenConv2D(weight: f.weight, bias: f.bias, geometry: geometry, backend: backend)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Conv2D.forward(x, weight: weight, bias: bias, geometry, backend: backend)
    }
}

public struct FrozenConvTranspose2D {
    public let weight: Tensor, bias: Tensor?
    public let geometry: ConvTranspose2DGeometry
    public let backend: any ConvBackend
    public init(_ bag: WeightBag, _ prefix: String, in c: Int, out k: Int, kernel: Int,
                geometry: ConvTranspose2DGeometry, bias hasBias: Bool = true, context: ExecutionContext) {
        weight = bag.take(prefix + ".weight", [c, k / geometry.groups, kernel, kernel])
        bias = hasBias ? bag.take(prefix + ".bias", [k]) : nil
        self.geometry = geometry
        backend = context.convolution
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try ConvTranspose2D.forward(x, weight: weight, bias: bias, geometry, backend: backend)
    }
    /// The input gradient of a transposed convolution is the plain convolution of dy with
    /// the same weight ([Cin, Cout/g, k, k] read as [K, C/g, k, k]); no weight gradient is formed.
    public func backwardInput(_ dy: Tensor) throws -> Tensor {
        let g = Conv2DGeometry(stride: geometry.stride, padding: geometry.padding,
                               dilation: geometry.dilation, groups: geometry.groups)
        return try Conv2D.forward(dy, weight: weight, bias: nil, g, backend: backend)
    }
}
