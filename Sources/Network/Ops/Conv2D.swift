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
        var y = Tensor(zeros: [s.n, s.k, s.oh, s.ow])
        x.data.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    ConvKernels.forward(x: xp.baseAddress!, w: wp.baseAddress!, y: yp.baseAddress!, s)
                    if let bias { ConvKernels.addBias(bias.data, to: yp.baseAddress!, n: s.n, c: s.k, hw: s.oh * s.ow) }
                }
            }
        }
        return y
    }

    /// The reference engine's backward (im2col + sgemm), same contract as `backward`.
    public static func backwardReference(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                                         needInputGrad: Bool = true,
                                         columnBudget: Int = ReferenceConvBackend.defaultColumnBudget)
        -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        var s = shape(x.shape, weight.shape, nil, g, "Conv2D.backward")
        s.columnBudget = columnBudget
        precondition(dy.shape == [s.n, s.k, s.oh, s.ow],
                     "Conv2D.backward: dy shape \(dy.shape) does not match output shape \([s.n, s.k, s.oh, s.ow]) "
                     + "(x \(x.shape), weight \(weight.shape))")
        var dW = Tensor(zeros: weight.shape)
        var dx: Tensor? = needInputGrad ? Tensor(zeros: x.shape) : nil
        dy.data.withUnsafeBufferPointer { dyp in
            x.data.withUnsafeBufferPointer { xp in
                dW.data.withUnsafeMutableBufferPointer { dwp in
                    ConvKernels.weightGrad(dy: dyp.baseAddress!, x: xp.baseAddress!, dw: dwp.baseAddress!, s)
                }
            }
            if needInputGrad {
                weight.data.withUnsafeBufferPointer { wp in
                    dx!.data.withUnsafeMutableBufferPointer { dxp in
                        ConvKernels.inputGrad(dy: dyp.baseAddress!, w: wp.baseAddress!, dx: dxp.baseAddress!, s)
                    }
                }
            }
        }
        let dB = ConvKernels.channelSums(dy.data, n: s.n, c: s.k, hw: s.oh * s.ow)
        return (dx, dW, dB)
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

    /// cols[(c·kh + i)·kw + j][(oh − oh0)·ow + ow] = x[c, oh·sH − pH + i·dH, ow·sW − pW + j·dW] (0 outside),
    /// for c in one group (`x` points at the group's first channel).
    static func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>,
                       _ s: ConvShape, oh0: Int, rows: Int) {
        let g = s.g
        let hw = s.h * s.w, t = rows * s.ow
        var r = 0
        for c in 0..<s.cg {
            let xc = x + c * hw
            for i in 0..<s.kh {
                for j in 0..<s.kw {
                    let dst = cols + r * t
                    let offW = j * g.dilationW - g.padW
                    let (lo, hi) = validRange(off: offW, stride: g.strideW, inSize: s.w, outSize: s.ow)
                    for rr in 0..<rows {
                        let d = dst + rr * s.ow
                        let ih = (oh0 + rr) * g.strideH - g.padH + i * g.dilationH
                        if ih < 0 || ih >= s.h || lo >= hi {
                            d.update(repeating: 0, count: s.ow)
                            continue
                        }
                        if lo > 0 { d.update(repeating: 0, count: lo) }
                        let src = xc + ih * s.w + offW
                        if g.strideW == 1 {
                            (d + lo).update(from: src + lo, count: hi - lo)
                        } else {
                            let sw = g.strideW
                            for o in lo..<hi { d[o] = src[o * sw] }
                        }
                        if hi < s.ow { (d + hi).update(repeating: 0, count: s.ow - hi) }
                    }
                    r += 1
                }
            }
        }
    }

    /// The adjoint of `im2col`: dx[c, ih, iw] += cols[...] for every in-range entry.
    static func col2imAdd(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                          _ s: ConvShape, oh0: Int, rows: Int) {
        let g = s.g
        let hw = s.h * s.w, t = rows * s.ow
        var r = 0
        for c in 0..<s.cg {
            let dxc = dx + c * hw
            for i in 0..<s.kh {
                for j in 0..<s.kw {
                    let src = cols + r * t
                    let offW = j * g.dilationW - g.padW
                    let (lo, hi) = validRange(off: offW, stride: g.strideW, inSize: s.w, outSize: s.ow)
                    r += 1
                    if lo >= hi { continue }
                    for rr in 0..<rows {
                        let ih = (oh0 + rr) * g.strideH - g.padH + i * g.dilationH
                        if ih < 0 || ih >= s.h { continue }
                        let srow = src + rr * s.ow
                        let d = dxc + ih * s.w + offW
                        let sw = g.strideW
                        for o in lo..<hi { d[o * sw] += srow[o] }
                    }
                }
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
            for n in 0..<s.n {
                for gi in 0..<s.groups {
                    sgemm(m: kg, n: hw, k: cg,
                          a: w + gi * kg * taps, lda: taps,
                          b: x + (n * s.c + gi * cg) * hw, ldb: hw,
                          c: y + (n * s.k + gi * kg) * ohw, ldc: ohw)
                }
            }
            return
        }
        let rpb = s.rowsPerBlock
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: taps * rpb * s.ow)
        defer { cols.deallocate() }
        for n in 0..<s.n {
            for gi in 0..<s.groups {
                let xg = x + (n * s.c + gi * cg) * hw
                let yg = y + (n * s.k + gi * kg) * ohw
                var oh0 = 0
                while oh0 < s.oh {
                    let rows = min(rpb, s.oh - oh0)
                    im2col(xg, cols, s, oh0: oh0, rows: rows)
                    sgemm(m: kg, n: rows * s.ow, k: taps,
                          a: w + gi * kg * taps, lda: taps,
                          b: cols, ldb: rows * s.ow,
                          c: yg + oh0 * s.ow, ldc: ohw)
                    oh0 += rows
                }
            }
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
            for n in 0..<s.n {
                for gi in 0..<s.groups {
                    sgemm(transB: true, m: kg, n: cg, k: hw,
                          a: dy + (n * s.k + gi * kg) * ohw, lda: ohw,
                          b: x + (n * s.c + gi * cg) * hw, ldb: hw,
                          beta: 1, c: dw + gi * kg * taps, ldc: taps)
                }
            }
            return
        }
        let rpb = s.rowsPerBlock
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: taps * rpb * s.ow)
        defer { cols.deallocate() }
        for n in 0..<s.n {
            for gi in 0..<s.groups {
                let xg = x + (n * s.c + gi * cg) * hw
                let dyg = dy + (n * s.k + gi * kg) * ohw
                var oh0 = 0
                while oh0 < s.oh {
                    let rows = min(rpb, s.oh - oh0)
                    im2col(xg, cols, s, oh0: oh0, rows: rows)
                    sgemm(transB: true, m: kg, n: taps, k: rows * s.ow,
                          a: dyg + oh0 * s.ow, lda: ohw,
                          b: cols, ldb: rows * s.ow,
                          beta: 1, c: dw + gi * kg * taps, ldc: taps)
                    oh0 += rows
                }
            }
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
            for n in 0..<s.n {
                for gi in 0..<s.groups {
                    sgemm(transA: true, m: cg, n: hw, k: kg,
                          a: w + gi * kg * taps, lda: taps,
                          b: dy + (n * s.k + gi * kg) * ohw, ldb: ohw,
                          c: dx + (n * s.c + gi * cg) * hw, ldc: hw)
                }
            }
            return
        }
        let rpb = s.rowsPerBlock
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: taps * rpb * s.ow)
        defer { cols.deallocate() }
        for n in 0..<s.n {
            for gi in 0..<s.groups {
                let dxg = dx + (n * s.c + gi * cg) * hw
                let dyg = dy + (n * s.k + gi * kg) * ohw
                var oh0 = 0
                while oh0 < s.oh {
                    let rows = min(rpb, s.oh - oh0)
                    sgemm(transA: true, m: taps, n: rows * s.ow, k: kg,
                          a: w + gi * kg * taps, lda: taps,
                          b: dyg + oh0 * s.ow, ldb: ohw,
                          c: cols, ldc: rows * s.ow)
                    col2imAdd(cols, dxg, s, oh0: oh0, rows: rows)
                    oh0 += rows
                }
            }
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

    static func depthwiseForward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                 _ s: ConvShape) {
        let ohw = s.oh * s.ow, hw = s.h * s.w, ktaps = s.kh * s.kw, sw = s.g.strideW
        y.update(repeating: 0, count: s.n * s.k * ohw)
        for n in 0..<s.n {
            for k in 0..<s.k {
                let xc = x + (n * s.c + k / s.kg) * hw   // cg == 1: group index == input channel
                let yk = y + (n * s.k + k) * ohw
                let wk = w + k * ktaps
                forEachTapRow(s) { oh, ih, lo, hi, offW, tap in
                    let wv = wk[tap]
                    let yr = yk + oh * s.ow
                    let xr = xc + ih * s.w + offW
                    if sw == 1 {
                        for o in lo..<hi { yr[o] += wv * xr[o] }
                    } else {
                        for o in lo..<hi { yr[o] += wv * xr[o * sw] }
                    }
                }
            }
        }
    }

    static func depthwiseInputGrad(dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                   _ s: ConvShape) {
        let ohw = s.oh * s.ow, hw = s.h * s.w, ktaps = s.kh * s.kw, sw = s.g.strideW
        for n in 0..<s.n {
            for k in 0..<s.k {
                let dxc = dx + (n * s.c + k / s.kg) * hw
                let dyk = dy + (n * s.k + k) * ohw
                let wk = w + k * ktaps
                forEachTapRow(s) { oh, ih, lo, hi, offW, tap in
                    let wv = wk[tap]
                    let dyr = dyk + oh * s.ow
                    let dxr = dxc + ih * s.w + offW
                    if sw == 1 {
                        for o in lo..<hi { dxr[o] += wv * dyr[o] }
                    } else {
                        for o in lo..<hi { dxr[o * sw] += wv * dyr[o] }
                    }
                }
            }
        }
    }

    static func depthwiseWeightGrad(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                                    _ s: ConvShape) {
        let ohw = s.oh * s.ow, hw = s.h * s.w, ktaps = s.kh * s.kw, sw = s.g.strideW
        for n in 0..<s.n {
            for k in 0..<s.k {
                let xc = x + (n * s.c + k / s.kg) * hw
                let dyk = dy + (n * s.k + k) * ohw
                let dwk = dw + k * ktaps
                forEachTapRow(s) { oh, ih, lo, hi, offW, tap in
                    let dyr = dyk + oh * s.ow
                    let xr = xc + ih * s.w + offW
                    var acc: Float = 0
                    if sw == 1 {
                        acc = dot(dyr + lo, xr + lo, hi - lo)
                    } else {
                        for o in lo..<hi { acc += dyr[o] * xr[o * sw] }
                    }
                    dwk[tap] += acc
                }
            }
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

    /// Σ a[i] with eight SIMD lanes.
    @inline(__always)
    static func sum(_ a: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        let ra = UnsafeRawPointer(a)
        while i + 8 <= count {
            acc += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < count { s += a[i]; i += 1 }
        return s
    }

    // MARK: bias

    static func addBias(_ bias: [Float], to y: UnsafeMutablePointer<Float>, n: Int, c: Int, hw: Int) {
        bias.withUnsafeBufferPointer { b in
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
        dy.withUnsafeBufferPointer { d in
            out.withUnsafeMutableBufferPointer { o in
                for ni in 0..<n {
                    for ci in 0..<c {
                        o[ci] += sum(d.baseAddress! + (ni * c + ci) * hw, hw)
                    }
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
