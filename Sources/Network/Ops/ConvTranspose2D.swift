/// Transposed 2-D convolution (PyTorch `F.conv_transpose2d` semantics), implemented as the
/// adjoint of `Conv2D`: a convolution A with weight W maps [N,Cout,OH,OW] → [N,Cin,H,W]; then
///   convT forward  y  = Aᵀ x            (Conv2D's input-gradient kernel),
///   convT backward dx = A dy            (Conv2D's forward kernel),
///                  dW = weight gradient of A with "input" dy and "output gradient" x,
/// PyTorch's convT weight layout [Cin, Cout/groups, kH, kW] is exactly A's conv2d layout.

public struct ConvTranspose2DGeometry: Hashable, Sendable {
    public var stride, padding, outputPadding, dilation, groups: Int

    public init(stride: Int = 1, padding: Int = 0, outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
        self.dilation = dilation; self.groups = groups
    }

    /// OH = (H − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
    public func outputSize(inputH: Int, inputW: Int, kernelH: Int, kernelW: Int) -> (h: Int, w: Int) {
        let h = (inputH - 1) * stride - 2 * padding + dilation * (kernelH - 1) + outputPadding + 1
        let w = (inputW - 1) * stride - 2 * padding + dilation * (kernelW - 1) + outputPadding + 1
        return (h, w)
    }

    var conv: Conv2DGeometry { Conv2DGeometry(stride: stride, padding: padding, dilation: dilation, groups: groups) }
}

public enum ConvTranspose2D {
    /// x [N,Cin,H,W], weight [Cin, Cout/groups, kH, kW], bias [Cout] or nil → y [N,Cout,OH,OW],
    /// on `backend`.
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: ConvTranspose2DGeometry,
                               backend: any ConvBackend) throws -> Tensor {
        try backend.convTranspose2DForward(x, weight: weight, bias: bias, g)
    }

    /// dy [N,Cout,OH,OW] → dx like x (nil when `needInputGrad` is false), dWeight like weight,
    /// dBias [Cout] = Σ dy over N, OH, OW; on `backend`.
    public static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                                needInputGrad: Bool = true,
                                backend: any ConvBackend) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        try backend.convTranspose2DBackward(dy, input: x, weight: weight, g, needInputGrad: needInputGrad)
    }

    /// The oneDNN engine's forward (`OneDNNConvBackend`): the adjoint convolution A's
    /// backward-data primitive (the bias is added afterwards; oneDNN's own deconvolution is the
    /// same kernel underneath).
    static func forwardOneDNN(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: ConvTranspose2DGeometry,
                              on dnnl: OneDNNConvBackend) throws -> Tensor {
        let s = shape(x.shape, weight.shape, bias?.shape, g, "ConvTranspose2D.forward")
        var y = Tensor(zeros: [s.n, s.c, s.h, s.w])
        try x.data.withUnsafeBufferPointer { xp in
            try weight.data.withUnsafeBufferPointer { wp in
                try y.data.withUnsafeMutableBufferPointer { yp in
                    try dnnl.backwardData(dy: xp.baseAddress!, w: wp.baseAddress!, dx: yp.baseAddress!, s)
                    if let bias { ConvKernels.addBias(bias.data, to: yp.baseAddress!, n: s.n, c: s.c, hw: s.h * s.w) }
                }
            }
        }
        return y
    }

    /// The oneDNN engine's backward (`OneDNNConvBackend`), same contract as `backward`.
    static func backwardOneDNN(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                               needInputGrad: Bool, on dnnl: OneDNNConvBackend) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let s = shape(x.shape, weight.shape, nil, g, "ConvTranspose2D.backward")
        precondition(dy.shape == [s.n, s.c, s.h, s.w],
                     "ConvTranspose2D.backward: dy shape \(dy.shape) does not match output shape \([s.n, s.c, s.h, s.w]) "
                     + "(x \(x.shape), weight \(weight.shape))")
        var dW = Tensor(zeros: weight.shape)
        var dx: Tensor? = needInputGrad ? Tensor(zeros: x.shape) : nil
        try dy.data.withUnsafeBufferPointer { dyp in
            try x.data.withUnsafeBufferPointer { xp in
                try dW.data.withUnsafeMutableBufferPointer { dwp in
                    // A's input is dy, A's output gradient is x (A's bias gradient would sum x: not wanted).
                    try dnnl.backwardWeights(x: dyp.baseAddress!, dy: xp.baseAddress!, dw: dwp.baseAddress!,
                                             db: nil, s)
                }
            }
            if needInputGrad {
                try weight.data.withUnsafeBufferPointer { wp in
                    try dx!.data.withUnsafeMutableBufferPointer { dxp in
                        _ = try dnnl.forward(x: dyp.baseAddress!, w: wp.baseAddress!, bias: nil, y: dxp.baseAddress!, s)
                    }
                }
            }
        }
        let dB = ConvKernels.channelSums(dy.data, n: s.n, c: s.c, hw: s.h * s.w)
        return (dx, dW, dB)
    }

    /// The reference engine (im2col + sgemm as the adjoint of Conv2D), same contract as `forward`.
    public static func forwardReference(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: ConvTranspose2DGeometry,
                                        columnBudget: Int = ReferenceConvBackend.defaultColumnBudget) -> Tensor {
        var s = shape(x.shape, weight.shape, bias?.shape, g, "ConvTranspose2D.forward")
        s.columnBudget = columnBudget
        return ConvKernels.apply(x, weight, bias: bias, s, adjoint: true)
    }

    /// The reference engine's backward, same contract as `backward`.
    public static func backwardReference(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                                         needInputGrad: Bool = true,
                                         columnBudget: Int = ReferenceConvBackend.defaultColumnBudget)
        -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        var s = shape(x.shape, weight.shape, nil, g, "ConvTranspose2D.backward")
        s.columnBudget = columnBudget
        return ConvKernels.backward(dy, input: x, weight: weight, s, transposed: true, needInputGrad: needInputGrad,
                                    "ConvTranspose2D.backward")
    }

    /// The shape of the adjoint convolution A: [N,Cout,OH,OW] → [N,Cin,H,W].
    static func shape(_ xs: [Int], _ ws: [Int], _ bs: [Int]?, _ g: ConvTranspose2DGeometry, _ op: String) -> ConvShape {
        precondition(g.stride >= 1 && g.dilation >= 1 && g.groups >= 1 && g.padding >= 0 && g.outputPadding >= 0
                     && g.outputPadding < max(g.stride, g.dilation),
                     "\(op): invalid geometry \(g) (output padding must be < max(stride, dilation))")
        precondition(xs.count == 4 && ws.count == 4,
                     "\(op): want x [N,Cin,H,W] and weight [Cin,Cout/groups,kH,kW], got x \(xs), weight \(ws)")
        let (n, cin, h, w) = (xs[0], xs[1], xs[2], xs[3])
        let (wcin, coutg, kh, kw) = (ws[0], ws[1], ws[2], ws[3])
        precondition(wcin == cin && cin % g.groups == 0,
                     "\(op): x \(xs) and weight \(ws) do not fit groups = \(g.groups)")
        let cout = coutg * g.groups
        if let bs { precondition(bs == [cout], "\(op): bias shape \(bs), want [\(cout)] (weight \(ws))") }
        let o = g.outputSize(inputH: h, inputW: w, kernelH: kh, kernelW: kw)
        precondition(o.h >= 1 && o.w >= 1, "\(op): empty output for x \(xs), weight \(ws), geometry \(g)")
        return ConvShape(n: n, c: cout, h: o.h, w: o.w, k: cin, kh: kh, kw: kw, oh: h, ow: w, g: g.conv)
    }
}
