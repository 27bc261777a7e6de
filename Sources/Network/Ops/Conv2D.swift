/// 2-D convolution (PyTorch `F.conv2d` semantics) over NCHW tensors, forward and backward.
///
/// The op runs on the `ConvBackend` it is given (the model's `ExecutionContext.convolution`).
/// The reference backend's work is done by `ConvKernels`, plain loops over flat Float buffers:
///   - general case: im2col over a block of output rows (the column buffer stays ~1 MB, in cache)
///     followed by one sgemm per group and block;
///   - 1×1, stride 1, unpadded: no im2col, the input already is the column matrix;
///   - depthwise-like (one input channel per group): a direct tap-major loop.
/// `ConvTranspose2D` reuses the same kernels as the adjoint.

public struct Conv2DGeometry: Hashable, Sendable {
    public var strideH, strideW, padH, padW, dilationH, dilationW, groups: Int

    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.init(strideH: stride, strideW: stride, padH: padding, padW: padding,
                  dilationH: dilation, dilationW: dilation, groups: groups)
    }

    public init(strideH: Int, strideW: Int, padH: Int, padW: Int,
                dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1) {
        self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
        self.dilationH = dilationH; self.dilationW = dilationW
        self.groups = groups
    }

    /// PyTorch: floor((in + 2·pad − dilation·(k − 1) − 1) / stride) + 1.
    public func outputSize(inputH: Int, inputW: Int, kernelH: Int, kernelW: Int) -> (h: Int, w: Int) {
        let h = (inputH + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1
        let w = (inputW + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1
        return (h, w)
    }

    func validate(_ op: String) {
        precondition(strideH >= 1 && strideW >= 1 && dilationH >= 1 && dilationW >= 1 && groups >= 1
                     && padH >= 0 && padW >= 0,
                     "\(op): invalid geometry \(self)")
    }
}

public enum Conv2D {
    /// x [N,C,H,W], weight [K, C/groups, kH, kW], bias [K] or nil → y [N,K,OH,OW], then
    /// `activation` in the same pass where the backend fuses it; on `backend`.
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                               activation: ConvActivation = .none, backend: any ConvBackend) throws -> Tensor {
        try backend.conv2DForward(x, weight: weight, bias: bias, g, activation: activation)
    }

    /// dy [N,K,OH,OW] → dx [N,C,H,W] (nil when `needInputGrad` is false), dWeight like weight,
    /// dBias [K] = Σ dy over N, OH, OW; on `backend`.
    public static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                                needInputGrad: Bool = true,
                                backend: any ConvBackend) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        try backend.conv2DBackward(dy, input: x, weight: weight, g, needInputGrad: needInputGrad)
    }

    /// The oneDNN engine's forward (`OneDNNConvBackend`); applies `activation` where the
    /// primitive did not fuse it.
    static func forwardOneDNN(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                              activation: ConvActivation, on dnnl: OneDNNConvBackend) throws -> Tensor {
        let s = shape(x.shape, weight.shape, bias?.shape, g, "Conv2D.forward")
        var y = Tensor(zeros: [s.n, s.k, s.oh, s.ow])
        let fused = try x.data.withUnsafeBufferPointer { xp in
            try weight.data.withUnsafeBufferPointer { wp in
                try y.data.withUnsafeMutableBufferPointer { yp in
                    try withOptionalPointer(bias) { bp in
                        try dnnl.forward(x: xp.baseAddress!, w: wp.baseAddress!, bias: bp, y: yp.baseAddress!, s,
                                         activation: activation)
                    }
                }
            }
        }
        if !fused { activation.apply(&y) }
        return y
    }

    /// The oneDNN engine's backward (`OneDNNConvBackend`), same contract as `backward`.
    static func backwardOneDNN(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                               needInputGrad: Bool, on dnnl: OneDNNConvBackend) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let s = shape(x.shape, weight.shape, nil, g, "Conv2D.backward")
        precondition(dy.shape == [s.n, s.k, s.oh, s.ow],
                     "Conv2D.backward: dy shape \(dy.shape) does not match output shape \([s.n, s.k, s.oh, s.ow]) "
                     + "(x \(x.shape), weight \(weight.shape))")
        var dW = Tensor(zeros: weight.shape)
        var dB = Tensor(zeros: [s.k])
        var dx: Tensor? = needInputGrad ? Tensor(zeros: x.shape) : nil
        try dy.data.withUnsafeBufferPointer { dyp in
            try x.data.withUnsafeBufferPointer { xp in
                try dW.data.withUnsafeMutableBufferPointer { dwp in
                    try dB.data.withUnsafeMutableBufferPointer { dbp in
                        try dnnl.backwardWeights(x: xp.baseAddress!, dy: dyp.baseAddress!, dw: dwp.baseAddress!,
                                                 db: dbp.baseAddress!, s)
                    }
                }
            }
            if needInputGrad {
                try weight.data.withUnsafeBufferPointer { wp in
                    try dx!.data.withUnsafeMutableBufferPointer { dxp in
                        try dnnl.backwardData(dy: dyp.baseAddress!, w: wp.baseAddress!, dx: dxp.baseAddress!, s)
                    }
                }
            }
        }
        return (dx, dW, dB)
    }

    /// The reference engine (im2col + sgemm): x [N,C,H,W], weight [K, C/groups, kH, kW], bias [K] or nil;
    /// `columnBudget` floats per im2col block.
    public static func forwardReference(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                                        columnBudget: Int = ReferenceConvBackend.defaultColumnBudget) -> Tensor {
        var s = shape(x.shape, weight.shape, bias?.shape, g, "Conv2D.forward")
        s.columnBudget = columnBudget
        return ConvKernels.apply(x, weight, bias: bias, s, adjoint: false)
    }

    /// The reference engine's backward (im2col + sgemm), same contract as `backward`.
    public static func backwardReference(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                                         needInputGrad: Bool = true,
                                         columnBudget: Int = ReferenceConvBackend.defaultColumnBudget)
        -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        var s = shape(x.shape, weight.shape, nil, g, "Conv2D.backward")
        s.columnBudget = columnBudget
        return ConvKernels.backward(dy, input: x, weight: weight, s, transposed: false, needInputGrad: needInputGrad,
                                    "Conv2D.backward")
    }

    static func shape(_ xs: [Int], _ ws: [Int], _ bs: [Int]?, _ g: Conv2DGeometry, _ op: String) -> ConvShape {
        g.validate(op)
        precondition(xs.count == 4 && ws.count == 4,
                     "\(op): want x [N,C,H,W] and weight [K,C/groups,kH,kW], got x \(xs), weight \(ws)")
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3])
        let (k, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3])
        precondition(c % g.groups == 0 && k % g.groups == 0 && cg * g.groups == c,
                     "\(op): x \(xs) and weight \(ws) do not fit groups = \(g.groups)")
        if let bs { precondition(bs == [k], "\(op): bias shape \(bs), want [\(k)] (weight \(ws))") }
        let o = g.outputSize(inputH: h, inputW: w, kernelH: kh, kernelW: kw)
        precondition(o.h >= 1 && o.w >= 1,
                     "\(op): empty output for x \(xs), weight \(ws), geometry \(g)")
        return ConvShape(n: n, c: c, h: h, w: w, k: k, kh: kh, kw: kw, oh: o.h, ow: o.w, g: g)
    }
}

/// Everything the kernels need: the convolution maps [n,c,h,w] → [n,k,oh,ow].
/// oh/ow are explicit (not recomputed) so the transposed convolution can use the kernels
/// with PyTorch's output padding.
struct ConvShape {
    var n, c, h, w, k, kh, kw, oh, ow: Int
    var g: Conv2DGeometry
    /// Floats in one im2col block of the reference kernels (the reference backend's knob).
    var columnBudget = ReferenceConvBackend.defaultColumnBudget

    var groups: Int { g.groups }
    var cg: Int { c / g.groups }       // input channels per group
    var kg: Int { k / g.groups }       // output channels per group
    var taps: Int { cg * kh * kw }     // rows of the column matrix
    var isPointwise: Bool {
        kh == 1 && kw == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0
            && oh == h && ow == w
    }
    var isDepthwise: Bool { cg == 1 && g.groups > 1 }
    var inputShape: [Int] { [n, c, h, w] }
    var outputShape: [Int] { [n, k, oh, ow] }

    /// Output rows per im2col block: the column buffer holds about `columnBudget` floats.
    var rowsPerBlock: Int {
        max(1, min(oh, columnBudget / max(1, taps * ow)))
    }
}

enum ConvKernels {
    /// Output positions o in [0, outSize) whose input index o·stride + off lies in [0, inSize).
    @inline(__always)
    static func validRange(off: Int, stride: Int, inSize: Int, outSize: Int) -> (lo: Int, hi: Int) {
        let lo = off >= 0 ? 0 : (-off + stride - 1) / stride
        let last = inSize - 1 - off
        let hi = last < 0 ? 0 : min(outSize, last / stride + 1)
        return (min(lo, hi), hi)
    }

    // MARK: im2col / col2im for a block of output rows

    /// Calls body(col, src, lo, hi) for every row of a column block, tap (c, i, j) by tap and
    /// output row oh0 + rr by row: `col` is the row's offset in the block ((r·rows + rr)·ow for
    /// tap number r), `src` the offset in the group's input of input row ih at column offset
    /// j·dW − pW (nil when ih is outside the input), lo..<hi the output columns whose input
    /// column is inside it.
    @inline(__always)
    static func forEachColumnRow(_ s: ConvShape, oh0: Int, rows: Int,
                                 _ body: (_ col: Int, _ src: Int?, _ lo: Int, _ hi: Int) -> Void) {
        let g = s.g
        let hw = s.h * s.w, t = rows * s.ow
        var r = 0
        for c in 0..<s.cg {
            for i in 0..<s.kh {
                for j in 0..<s.kw {
                    let offW = j * g.dilationW - g.padW
                    let (lo, hi) = validRange(off: offW, stride: g.strideW, inSize: s.w, outSize: s.ow)
                    for rr in 0..<rows {
                        let ih = (oh0 + rr) * g.strideH - g.padH + i * g.dilationH
                        body(r * t + rr * s.ow, ih < 0 || ih >= s.h ? nil : c * hw + ih * s.w + offW, lo, hi)
                    }
                    r += 1
                }
            }
        }
    }

    /// cols[(c·kh + i)·kw + j][(oh − oh0)·ow + ow] = x[c, oh·sH − pH + i·dH, ow·sW − pW + j·dW] (0 outside),
    /// for c in one group (`x` points at the group's first channel).
    static func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>,
                       _ s: ConvShape, oh0: Int, rows: Int) {
        let sw = s.g.strideW
        forEachColumnRow(s, oh0: oh0, rows: rows) { col, src, lo, hi in
            let d = cols + col
            guard let src, lo < hi else {
                d.update(repeating: 0, count: s.ow)
                return
            }
            if lo > 0 { d.update(repeating: 0, count: lo) }
            let xr = x + src
            if sw == 1 {
                (d + lo).update(from: xr + lo, count: hi - lo)
            } else {
                for o in lo..<hi { d[o] = xr[o * sw] }
            }
            if hi < s.ow { (d + hi).update(repeating: 0, count: s.ow - hi) }
        }
    }

    /// The adjoint of `im2col`: dx[c, ih, iw] += cols[...] for every in-range entry.
    static func col2imAdd(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                          _ s: ConvShape, oh0: Int, rows: Int) {
        let sw = s.g.strideW
        forEachColumnRow(s, oh0: oh0, rows: rows) { col, dst, lo, hi in
            guard let dst, lo < hi else { return }
            let srow = cols + col, d = dx + dst
            for o in lo..<hi { d[o * sw] += srow[o] }
        }
    }

    // MARK: Tensor entry points of the reference engine (Conv2D and ConvTranspose2D)

    /// A·x + bias per output channel, A the convolution of shape s with weight w: with `adjoint`
    /// false x [n,c,h,w] → [n,k,oh,ow] (Conv2D's forward, ConvTranspose2D's input gradient); with
    /// `adjoint` true Aᵀ·x, x [n,k,oh,ow] → [n,c,h,w] (Conv2D's input gradient, ConvTranspose2D's
    /// forward).
    static func apply(_ x: Tensor, _ w: Tensor, bias: Tensor?, _ s: ConvShape, adjoint: Bool) -> Tensor {
        let shape = adjoint ? s.inputShape : s.outputShape
        var y = Tensor(zeros: shape)
        withPointers(x, w, mutating: &y) { xp, wp, yp in
            if adjoint { inputGrad(dy: xp, w: wp, dx: yp, s) } else { forward(x: xp, w: wp, y: yp, s) }
            if let bias { addBias(bias.data, to: yp, n: s.n, c: shape[1], hw: shape[2] * shape[3]) }
        }
        return y
    }

    /// The reference backward of Conv2D (`transposed` false: y = A·x) or of ConvTranspose2D
    /// (true: y = Aᵀ·x), A the convolution of shape s with weight `weight`.
    static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ s: ConvShape, transposed: Bool,
                         needInputGrad: Bool, _ op: String) -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let yShape = transposed ? s.inputShape : s.outputShape
        precondition(dy.shape == yShape,
                     "\(op): dy shape \(dy.shape) does not match output shape \(yShape) "
                     + "(x \(x.shape), weight \(weight.shape))")
        // A's input and output gradient: (x, dy) for Conv2D; (dy, x) for ConvTranspose2D (A's bias
        // gradient would sum x: not wanted).
        let (aInput, aOutputGrad) = transposed ? (dy, x) : (x, dy)
        var dW = Tensor(zeros: weight.shape)
        withPointers(aOutputGrad, aInput, mutating: &dW) { weightGrad(dy: $0, x: $1, dw: $2, s) }
        var dx: Tensor?
        if needInputGrad { dx = apply(dy, weight, bias: nil, s, adjoint: !transposed) }
        let dB = channelSums(dy.data, n: s.n, c: yShape[1], hw: yShape[2] * yShape[3])
        return (dx, dW, dB)
    }

    // MARK: walks shared by the kernels

    /// Calls body(xOff, yOff, wOff) for every image and group: the offsets of the group's first
    /// input channel in x, first output channel in y and first row in w.
    @inline(__always)
    static func forEachGroup(_ s: ConvShape, _ body: (_ x: Int, _ y: Int, _ w: Int) -> Void) {
        let ohw = s.oh * s.ow, hw = s.h * s.w
        for n in 0..<s.n {
            for gi in 0..<s.groups {
                body((n * s.c + gi * s.cg) * hw, (n * s.k + gi * s.kg) * ohw, gi * s.kg * s.taps)
            }
        }
    }

    /// Calls body(cols, xOff, yOff, wOff, oh0, rows) for every image, group (offsets as in
    /// `forEachGroup`) and block of output rows oh0..<oh0 + rows; `cols` is a column buffer of
    /// taps × rows·ow floats.
    @inline(__always)
    static func forEachRowBlock(_ s: ConvShape,
                                _ body: (_ cols: UnsafeMutablePointer<Float>, _ x: Int, _ y: Int, _ w: Int,
                                         _ oh0: Int, _ rows: Int) -> Void) {
        let rpb = s.rowsPerBlock
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: s.taps * rpb * s.ow)
        defer { cols.deallocate() }
        forEachGroup(s) { xo, yo, wo in
            var oh0 = 0
            while oh0 < s.oh {
                let rows = min(rpb, s.oh - oh0)
                body(cols, xo, yo, wo, oh0, rows)
                oh0 += rows
            }
        }
    }

    // MARK: forward

    /// y [n,k,oh,ow] = conv(x, w), overwritten (no bias).
    static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                        _ s: ConvShape) {
        if s.isDepthwise { return depthwiseForward(x: x, w: w, y: y, s) }
        let ohw = s.oh * s.ow, hw = s.h * s.w
        let kg = s.kg, cg = s.cg, taps = s.taps
        if s.isPointwise {
            forEachGroup(s) { xo, yo, wo in
                sgemm(m: kg, n: hw, k: cg, a: w + wo, lda: taps, b: x + xo, ldb: hw, c: y + yo, ldc: ohw)
            }
            return
        }
        forEachRowBlock(s) { cols, xo, yo, wo, oh0, rows in
            im2col(x + xo, cols, s, oh0: oh0, rows: rows)
            sgemm(m: kg, n: rows * s.ow, k: taps, a: w + wo, lda: taps, b: cols, ldb: rows * s.ow,
                  c: y + yo + oh0 * s.ow, ldc: ohw)
        }
    }

    // MARK: backward

    /// dw [k, cg, kh, kw] = Σ over images and positions of dy ⊗ im2col(x), overwritten.
    static func weightGrad(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                           _ s: ConvShape) {
        dw.update(repeating: 0, count: s.k * s.taps)
        if s.isDepthwise { return depthwiseWeightGrad(dy: dy, x: x, dw: dw, s) }
        let ohw = s.oh * s.ow, hw = s.h * s.w
        let kg = s.kg, cg = s.cg, taps = s.taps
        if s.isPointwise {
            forEachGroup(s) { xo, yo, wo in
                sgemm(transB: true, m: kg, n: cg, k: hw, a: dy + yo, lda: ohw, b: x + xo, ldb: hw,
                      beta: 1, c: dw + wo, ldc: taps)
            }
            return
        }
        forEachRowBlock(s) { cols, xo, yo, wo, oh0, rows in
            im2col(x + xo, cols, s, oh0: oh0, rows: rows)
            sgemm(transB: true, m: kg, n: taps, k: rows * s.ow, a: dy + yo + oh0 * s.ow, lda: ohw,
                  b: cols, ldb: rows * s.ow, beta: 1, c: dw + wo, ldc: taps)
        }
    }

    /// dx [n,c,h,w] = convᵀ(dy, w), overwritten: column block = W_gᵀ · dy block, then col2im.
    static func inputGrad(dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                          _ s: ConvShape) {
        let ohw = s.oh * s.ow, hw = s.h * s.w
        dx.update(repeating: 0, count: s.n * s.c * hw)
        if s.isDepthwise { return depthwiseInputGrad(dy: dy, w: w, dx: dx, s) }
        let kg = s.kg, cg = s.cg, taps = s.taps
        if s.isPointwise {
            forEachGroup(s) { xo, yo, wo in
                sgemm(transA: true, m: cg, n: hw, k: kg, a: w + wo, lda: taps, b: dy + yo, ldb: ohw,
                      c: dx + xo, ldc: hw)
            }
            return
        }
        forEachRowBlock(s) { cols, xo, yo, wo, oh0, rows in
            sgemm(transA: true, m: taps, n: rows * s.ow, k: kg, a: w + wo, lda: taps, b: dy + yo + oh0 * s.ow, ldb: ohw,
                  c: cols, ldc: rows * s.ow)
            col2imAdd(cols, dx + xo, s, oh0: oh0, rows: rows)
        }
    }

    // MARK: depthwise (one input channel per group): direct tap-major loops

    /// Calls body(outRow, inRow, lo, hi, offW, wIndex) for every kernel tap and output row
    /// of output channel k whose input row is in range; lo..<hi are the valid output columns.
    @inline(__always)
    static func forEachTapRow(_ s: ConvShape,
                              _ body: (_ oh: Int, _ ih: Int, _ lo: Int, _ hi: Int, _ offW: Int, _ tap: Int) -> Void) {
        let g = s.g
        for i in 0..<s.kh {
            for j in 0..<s.kw {
                let offW = j * g.dilationW - g.padW
                let (lo, hi) = validRange(off: offW, stride: g.strideW, inSize: s.w, outSize: s.ow)
                if lo >= hi { continue }
                let offH = i * g.dilationH - g.padH
                let (rlo, rhi) = validRange(off: offH, stride: g.strideH, inSize: s.h, outSize: s.oh)
                for oh in rlo..<rhi {
                    body(oh, oh * g.strideH + offH, lo, hi, offW, i * s.kw + j)
                }
            }
        }
    }

    /// Calls body(yRow, xRow, wTap, lo, hi) for every image, output channel k, kernel tap and
    /// output row of k whose input row is in range (`forEachTapRow`): the offsets of the output
    /// row in y, of the input row (at the tap's column offset) in x and of the tap's weight in w;
    /// lo..<hi are the valid output columns.
    @inline(__always)
    static func forEachDepthwiseRow(_ s: ConvShape,
                                    _ body: (_ y: Int, _ x: Int, _ w: Int, _ lo: Int, _ hi: Int) -> Void) {
        let ohw = s.oh * s.ow, hw = s.h * s.w, ktaps = s.kh * s.kw
        for n in 0..<s.n {
            for k in 0..<s.k {
                let xc = (n * s.c + k / s.kg) * hw   // cg == 1: group index == input channel
                let yk = (n * s.k + k) * ohw
                forEachTapRow(s) { oh, ih, lo, hi, offW, tap in
                    body(yk + oh * s.ow, xc + ih * s.w + offW, k * ktaps + tap, lo, hi)
                }
            }
        }
    }

    static func depthwiseForward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                 _ s: ConvShape) {
        let sw = s.g.strideW
        y.update(repeating: 0, count: s.n * s.k * s.oh * s.ow)
        forEachDepthwiseRow(s) { yo, xo, wo, lo, hi in
            let wv = w[wo], yr = y + yo, xr = x + xo
            if sw == 1 {
                for o in lo..<hi { yr[o] += wv * xr[o] }
            } else {
                for o in lo..<hi { yr[o] += wv * xr[o * sw] }
            }
        }
    }

    static func depthwiseInputGrad(dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                   _ s: ConvShape) {
        let sw = s.g.strideW
        forEachDepthwiseRow(s) { yo, xo, wo, lo, hi in
            let wv = w[wo], dyr = dy + yo, dxr = dx + xo
            if sw == 1 {
                for o in lo..<hi { dxr[o] += wv * dyr[o] }
            } else {
                for o in lo..<hi { dxr[o * sw] += wv * dyr[o] }
            }
        }
    }

    static func depthwiseWeightGrad(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                                    _ s: ConvShape) {
        let sw = s.g.strideW
        forEachDepthwiseRow(s) { yo, xo, wo, lo, hi in
            let dyr = dy + yo, xr = x + xo
            var acc: Float = 0
            if sw == 1 {
                acc = dot(dyr + lo, xr + lo, hi - lo)
            } else {
                for o in lo..<hi { acc += dyr[o] * xr[o * sw] }
            }
            dw[wo] += acc
        }
    }

    /// Σ a[i]·b[i] with eight SIMD lanes (a serial Float sum would not vectorise).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 8 <= count {
            acc += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                 * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }

    // MARK: bias

    static func addBias(_ bias: [Float], to y: UnsafeMutablePointer<Float>, n: Int, c: Int, hw: Int) {
        withPointers(bias) { b in
            for ni in 0..<n {
                for ci in 0..<c {
                    let row = y + (ni * c + ci) * hw
                    let v = b[ci]
                    for i in 0..<hw { row[i] += v }
                }
            }
        }
    }

    /// Σ over N and the spatial positions, per channel (the bias gradient).
    static func channelSums(_ dy: [Float], n: Int, c: Int, hw: Int) -> Tensor {
        var out = [Float](repeating: 0, count: c)
        withPointers(dy, mutating: &out) { d, o in
            for ni in 0..<n {
                for ci in 0..<c {
                    o[ci] += sumSIMD(d + (ni * c + ci) * hw, hw)
                }
            }
        }
        return Tensor(shape: [c], data: out)
    }
}

/// body(pointer to t's values), or body(nil) when there is no t.
private func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let t else { return try body(nil) }
    return try t.data.withUnsafeBufferPointer { try body($0.baseAddress!) }
}
