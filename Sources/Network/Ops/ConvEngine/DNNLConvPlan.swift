import CDNNL
#if canImport(Glibc)
import Glibc
#endif

/// Which convolution primitive a plan runs. Transposed convolutions use the same three through
/// their adjoint convolution (see ConvTranspose2D.swift): forward = backward-data, and so on.
enum DNNLConvDirection: Int, Hashable {
    case forward, backwardData, backwardWeights
}

enum DNNLConvAlgorithm: String {
    case direct, winograd
}

/// Cache key: the adjoint-free convolution shape [n,c,h,w] → [n,k,oh,ow], geometry, direction, bias.
struct DNNLConvKey: Hashable {
    var direction: DNNLConvDirection
    var n, c, h, w, k, kh, kw, oh, ow: Int
    var geometry: Conv2DGeometry
    var bias: Bool
    /// Whether Winograd may be used where it applies.
    var winograd: Bool
    /// Applied to the forward's output as a post-op.
    var activation: ConvActivation

    init(_ s: ConvShape, _ d: DNNLConvDirection, bias: Bool, winograd: Bool, activation: ConvActivation = .none) {
        self.winograd = winograd
        self.activation = d == .forward ? activation : .none
        direction = d
        n = s.n; c = s.c; h = s.h; w = s.w; k = s.k; kh = s.kh; kw = s.kw; oh = s.oh; ow = s.ow
        geometry = s.g; self.bias = bias
    }
}

/// One oneDNN convolution primitive for one shape, created once and reused.
///
/// Layout boundary: callers hand plain NCHW (and OIHW / GOIHW weights) buffers. Where the
/// primitive picked a blocked layout (nChw8c, OIhw8i8o, … on AVX2), the plan reorders inputs
/// into blocked buffers before the call and the outputs back after it. The memory objects are
/// created once here; the blocked buffers and the scratchpad live in one workspace shared by
/// every plan of one `OneDNNConvBackend` (its calls never overlap), placed at fixed offsets,
/// so a call only swaps data handles and the memory they take is one call's worth, not one
/// per shape.
///
/// Why the boundary is at every convolution: in g each convolution is followed by our own
/// BatchNorm (batch statistics in training), ReLU6 and the HarDBlock concatenations, all on
/// NCHW; `bench conv` measures these reorders at 8% of the oneDNN engine's time for g's
/// convolutions (batch 10, 1 thread), less than blocked versions of those ops would cost to
/// write and check. The encoder's 1×1 and depthwise convolutions run in fused NCHW kernels
/// (FrozenFused), not here.
final class DNNLConvPlan {
    private struct Arg {
        var id: Int32
        var isOutput: Bool
        var user: dnnl_memory_t?          // plain layout, data handle set per call
        var inner: dnnl_memory_t?         // the primitive's layout, in the workspace; nil when it is plain
        var innerOffset = 0
        var reorder: dnnl_primitive_t?
    }

    let lib: DNNLLibrary
    let key: DNNLConvKey
    /// Which algorithm oneDNN runs for this plan.
    let algorithm: DNNLConvAlgorithm
    /// Whether the primitive applies `key.activation` (false where it could not fuse it).
    let fusesActivation: Bool
    private var primitive: dnnl_primitive_t?
    private var args: [Arg] = []
    private var scratch: dnnl_memory_t?
    private var scratchOffset = 0
    /// Bytes of workspace one call uses (blocked buffers + scratchpad, 64-byte aligned each).
    private(set) var workspaceBytes = 0
    private var execArgs: [dnnl_exec_arg_t] = []
    /// Bytes reordered per call (layout traffic; 0 when the primitive takes plain layouts).
    private(set) var reorderedArgs: [Int32] = []

    /// Whether src / diff_src is a view without trailing rows or columns (see `rightPad`), and
    /// the full tensor's element count (a diff_src view's unwritten rest is zeroed per call).
    private let srcCropped: Bool
    private let srcCount: Int

    /// Argument ids in the order `execute` takes its pointers.
    let argOrder: [Int32]

    /// Throws `OneDNNError` where oneDNN has no primitive for the shape or a call fails.
    init(_ lib: DNNLLibrary, _ key: DNNLConvKey) throws {
        self.lib = lib
        self.key = key
        let g = key.geometry
        let groups = g.groups
        let (padRH, cropH) = Self.rightPad(in: key.h, out: key.oh, k: key.kh, stride: g.strideH,
                                           pad: g.padH, dilation: g.dilationH)
        let (padRW, cropW) = Self.rightPad(in: key.w, out: key.ow, k: key.kw, stride: g.strideW,
                                           pad: g.padW, dilation: g.dilationW)
        // The primitive sees src without the cropped trailing rows/columns; the user's src
        // (or diff_src) memory is a view with the full tensor's strides.
        let srcDims = [key.n, key.c, key.h - cropH, key.w - cropW]
        let srcStrides = [key.c * key.h * key.w, key.h * key.w, key.w, 1]
        srcCropped = cropH > 0 || cropW > 0
        srcCount = key.n * key.c * key.h * key.w
        let dstDims = [key.n, key.k, key.oh, key.ow]
        let wDims = groups == 1 ? [key.k, key.c, key.kh, key.kw]
                                : [groups, key.k / groups, key.c / groups, key.kh, key.kw]
        let wTag = groups == 1 ? dnnl_oihw : dnnl_goihw

        // A 1×1 convolution with fewer than 8 channels on one side runs on plain NCHW (oneDNN's
        // gemm kernel): blocking would pad that side to 16 and reorder everything for it
        // (h's 16→1 head: 35 GFLOP/s plain vs 5.5 blocked, before reorders).
        let plainLayout = key.kh == 1 && key.kw == 1 && groups == 1 && !srcCropped && min(key.c, key.k) < 8
        var srcAny = try Self.md(lib, srcDims, plainLayout ? dnnl_nchw : dnnl_format_tag_any)
        var dstAny = try Self.md(lib, dstDims, plainLayout ? dnnl_nchw : dnnl_format_tag_any)
        var wAny = try Self.md(lib, wDims, plainLayout ? wTag : dnnl_format_tag_any)
        var biasMd = try Self.md(lib, [key.k], dnnl_a)
        let strides: [Int64] = [Int64(g.strideH), Int64(g.strideW)]
        let dilates: [Int64] = [Int64(g.dilationH - 1), Int64(g.dilationW - 1)]
        let padL: [Int64] = [Int64(g.padH), Int64(g.padW)]
        let padR: [Int64] = [Int64(padRH), Int64(padRW)]

        // Two attribute sets: scratchpad only, and scratchpad + the activation as a post-op.
        func makeAttr() throws -> dnnl_primitive_attr_t? {
            var a: dnnl_primitive_attr_t?
            try Self.check(lib.attr_create(&a), "primitive_attr_create", key)
            try Self.check(lib.attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user), "set_scratchpad_mode", key)
            return a
        }
        let attr = try makeAttr()
        defer { _ = lib.attr_destroy(attr) }
        let postAttr = try makeAttr()
        defer { _ = lib.attr_destroy(postAttr) }
        if key.activation != .none {
            var po: dnnl_post_ops_t?
            try Self.check(lib.post_ops_create(&po), "post_ops_create", key)
            defer { _ = lib.post_ops_destroy(po) }
            let st: dnnl_status_t
            switch key.activation {
            case .relu: st = lib.post_ops_append_eltwise(po, 1, dnnl_eltwise_relu, 0, 0)
            case .relu6: st = lib.post_ops_append_eltwise(po, 1, dnnl_eltwise_clip, 0, 6)
            case .leakyReLU(let slope): st = lib.post_ops_append_eltwise(po, 1, dnnl_eltwise_relu, slope, 0)
            case .none: st = dnnl_success
            }
            try Self.check(st, "post_ops_append_eltwise", key)
            try Self.check(lib.attr_set_post_ops(postAttr, po), "primitive_attr_set_post_ops", key)
        }
        let withBias = key.bias && key.direction == .forward
        let order: [Int32]
        switch key.direction {
        case .forward:
            order = withBias ? [DNNLArg.src, DNNLArg.weights, DNNLArg.bias, DNNLArg.dst]
                             : [DNNLArg.src, DNNLArg.weights, DNNLArg.dst]
        case .backwardData:
            order = [DNNLArg.diffDst, DNNLArg.weights, DNNLArg.diffSrc]
        case .backwardWeights:
            order = key.bias ? [DNNLArg.src, DNNLArg.diffDst, DNNLArg.diffWeights, DNNLArg.diffBias]
                             : [DNNLArg.src, DNNLArg.diffDst, DNNLArg.diffWeights]
        }

        /// The primitive descriptor for `alg` (the forward one, or a backward one built on the
        /// forward hint), nil where oneDNN has no implementation of it for this shape.
        func descriptor(_ alg: dnnl_alg_kind_t, fuse: Bool) -> dnnl_primitive_desc_t? {
            let attr = fuse && key.activation != .none ? postAttr : attr
            var fwd = dnnl_convolution_desc_t()
            let st = withBias
                ? lib.conv_fwd_init(&fwd, dnnl_forward_training, alg, &srcAny, &wAny, &biasMd, &dstAny,
                                    strides, dilates, padL, padR)
                : lib.conv_fwd_init(&fwd, dnnl_forward_training, alg, &srcAny, &wAny, nil, &dstAny,
                                    strides, dilates, padL, padR)
            guard st == dnnl_success else { return nil }
            var fwdPD: dnnl_primitive_desc_t?
            guard lib.pd_create(&fwdPD, &fwd, key.direction == .forward ? attr : nil, lib.engine, nil) == dnnl_success
            else { return nil }
            if key.direction == .forward { return fwdPD }
            defer { _ = lib.pd_destroy(fwdPD) }
            var d = dnnl_convolution_desc_t()
            let sd: dnnl_status_t
            if key.direction == .backwardData {
                sd = lib.conv_bwd_data_init(&d, alg, &srcAny, &wAny, &dstAny, strides, dilates, padL, padR)
            } else if key.bias {
                sd = lib.conv_bwd_weights_init(&d, alg, &srcAny, &wAny, &biasMd, &dstAny, strides, dilates, padL, padR)
            } else {
                sd = lib.conv_bwd_weights_init(&d, alg, &srcAny, &wAny, nil, &dstAny, strides, dilates, padL, padR)
            }
            guard sd == dnnl_success else { return nil }
            var pd: dnnl_primitive_desc_t?
            return lib.pd_create(&pd, &d, attr, lib.engine, fwdPD) == dnnl_success ? pd : nil
        }

        // Winograd F(4×4, 3×3) where oneDNN implements it (3×3, stride 1, no groups or
        // dilation, on AVX-512 CPUs): 2–3× fewer multiplies, error ≤ 2e-5 of the output's scale.
        // Winograd has no clip post-op (ReLU6): there it runs unfused (the caller applies the
        // activation after), which still beats the direct kernel with the activation fused.
        var chosen: dnnl_primitive_desc_t?
        var alg = DNNLConvAlgorithm.direct
        var separate = false
        if key.winograd && Self.winogradShape(key) {
            chosen = descriptor(dnnl_convolution_winograd, fuse: true)
            if chosen == nil && key.activation != .none {
                chosen = descriptor(dnnl_convolution_winograd, fuse: false)
                separate = chosen != nil
            }
            if chosen != nil { alg = .winograd }
        }
        if chosen == nil { chosen = descriptor(dnnl_convolution_direct, fuse: true) }
        fusesActivation = key.activation != .none && !separate
        guard let pd = chosen else { throw OneDNNError("oneDNN has no convolution for \(key)") }
        algorithm = alg
        defer { _ = lib.pd_destroy(pd) }
        argOrder = order

        try Self.check(lib.primitive_create(&primitive, pd), "primitive_create", key)

        for id in order {
            let plain: dnnl_memory_desc_t
            switch id {
            case DNNLArg.src, DNNLArg.diffSrc:
                plain = try srcCropped ? Self.md(lib, srcDims, strides: srcStrides) : Self.md(lib, srcDims, dnnl_nchw)
            case DNNLArg.dst, DNNLArg.diffDst: plain = try Self.md(lib, dstDims, dnnl_nchw)
            case DNNLArg.weights, DNNLArg.diffWeights: plain = try Self.md(lib, wDims, wTag)
            default: plain = biasMd
            }
            var user = plain
            guard let want = lib.pd_query_md(pd, dnnl_query_exec_arg_md, id) else {
                throw OneDNNError("oneDNN: no memory descriptor for argument \(id) of \(key)")
            }
            let isOutput = id == DNNLArg.dst || id == DNNLArg.diffSrc || id == DNNLArg.diffWeights
                || id == DNNLArg.diffBias
            var arg = Arg(id: id, isOutput: isOutput, user: nil, inner: nil, reorder: nil)
            try Self.check(lib.memory_create(&arg.user, &user, lib.engine, nil), "memory_create", key)
            if lib.md_equal(&user, want) == 0 {
                try Self.check(lib.memory_create(&arg.inner, want, lib.engine, nil), "memory_create", key)
                arg.innerOffset = workspaceBytes
                workspaceBytes += Self.aligned(lib.md_get_size(want))
                var rpd: dnnl_primitive_desc_t?
                if isOutput {
                    try Self.check(lib.reorder_pd_create(&rpd, want, lib.engine, &user, lib.engine, nil), "reorder", key)
                } else {
                    try Self.check(lib.reorder_pd_create(&rpd, &user, lib.engine, want, lib.engine, nil), "reorder", key)
                }
                try Self.check(lib.primitive_create(&arg.reorder, rpd), "primitive_create(reorder)", key)
                _ = lib.pd_destroy(rpd)
                reorderedArgs.append(id)
            }
            args.append(arg)
            execArgs.append(dnnl_exec_arg_t(arg: id, memory: arg.inner ?? arg.user))
        }
        if let sp = lib.pd_query_md(pd, dnnl_query_scratchpad_md, 0), lib.md_get_size(sp) > 0 {
            try Self.check(lib.memory_create(&scratch, sp, lib.engine, nil), "memory_create(scratchpad)", key)
            scratchOffset = workspaceBytes
            workspaceBytes += Self.aligned(lib.md_get_size(sp))
            execArgs.append(dnnl_exec_arg_t(arg: DNNLArg.scratchpad, memory: scratch))
        }
    }

    deinit {
        for a in args {
            if let r = a.reorder { _ = lib.primitive_destroy(r) }
            if let m = a.inner { _ = lib.memory_destroy(m) }
            if let m = a.user { _ = lib.memory_destroy(m) }
        }
        if let scratch { _ = lib.memory_destroy(scratch) }
        if let primitive { _ = lib.primitive_destroy(primitive) }
    }

    /// Where Winograd is used: forward and backward-data of 3×3, stride-1, undilated, ungrouped
    /// convolutions. Not backward-weights: it sums x·dy products over the whole batch in the
    /// transformed domain, and where those cancel (small weight gradients) its error reached
    /// 1e-2 of the gradient's scale in g's eval-mode parity test (direct: 3e-5).
    static func winogradShape(_ k: DNNLConvKey) -> Bool {
        let g = k.geometry
        return k.direction != .backwardWeights && k.kh == 3 && k.kw == 3 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1
            && g.groups == 1
    }

    static func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }

    /// Runs the primitive on `stream` on plain-layout buffers given in `argOrder` order, with
    /// `workspace` (at least `workspaceBytes`, 64-byte aligned) for the blocked buffers and
    /// scratchpad. With `profile`, returns the nanoseconds spent in layout reorders and in the
    /// primitive itself (the benchmark's measure of what keeping blocked layouts would save).
    func execute(_ pointers: [UnsafeMutableRawPointer], workspace: UnsafeMutableRawPointer?, stream: dnnl_stream_t?,
                 profile: Bool) throws -> (reorder: UInt64, primitive: UInt64) {
        precondition(pointers.count == args.count, "DNNLConvPlan.execute: \(pointers.count) buffers for \(args.count) arguments")
        precondition(workspaceBytes == 0 || workspace != nil, "DNNLConvPlan.execute: no workspace")
        if let scratch, let workspace {
            try Self.check(lib.memory_set_data_handle(scratch, workspace + scratchOffset), "memory_set_data_handle", key)
        }
        for (a, p) in zip(args, pointers) {
            if let inner = a.inner, let workspace {
                try Self.check(lib.memory_set_data_handle(inner, workspace + a.innerOffset), "memory_set_data_handle", key)
            }
            try Self.check(lib.memory_set_data_handle(a.user, p), "memory_set_data_handle", key)
            if srcCropped && a.id == DNNLArg.diffSrc {
                p.bindMemory(to: Float.self, capacity: srcCount).update(repeating: 0, count: srcCount)
            }
        }
        let t0 = profile ? Self.nanos() : 0
        for a in args where !a.isOutput && a.reorder != nil { try run(a.reorder, from: a.user, to: a.inner, stream) }
        let t1 = profile ? Self.nanos() : 0
        try execArgs.withUnsafeBufferPointer { ea in
            try Self.check(lib.primitive_execute(primitive, stream, Int32(ea.count), ea.baseAddress), "execute", key)
        }
        let t2 = profile ? Self.nanos() : 0
        for a in args where a.isOutput && a.reorder != nil { try run(a.reorder, from: a.inner, to: a.user, stream) }
        try Self.check(lib.stream_wait(stream), "stream_wait", key)
        guard profile else { return (0, 0) }
        let t3 = Self.nanos()
        return ((t1 - t0) + (t3 - t2), t2 - t1)
    }

    private static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private func run(_ r: dnnl_primitive_t?, from: dnnl_memory_t?, to: dnnl_memory_t?, _ stream: dnnl_stream_t?) throws {
        let ra = [dnnl_exec_arg_t(arg: DNNLArg.from, memory: from), dnnl_exec_arg_t(arg: DNNLArg.to, memory: to)]
        try ra.withUnsafeBufferPointer { p in
            try Self.check(lib.primitive_execute(r, stream, 2, p.baseAddress), "execute(reorder)", key)
        }
    }

    /// Right padding with floor((in + pad + padR − extent) / stride) + 1 == out, as oneDNN checks it,
    /// never negative (oneDNN rejects that): 0 where that holds (rows the stride skips at the end
    /// are simply not read), else 0 with `crop` trailing input rows left out of the primitive's
    /// view — they are never read (a transposed convolution's output padding beyond the stride).
    static func rightPad(in n: Int, out: Int, k: Int, stride: Int, pad: Int,
                         dilation: Int) -> (pad: Int, crop: Int) {
        let ext = dilation * (k - 1) + 1
        let exact = (out - 1) * stride + ext - n - pad
        if exact >= 0 { return (exact, 0) }
        let span = n + pad - ext
        return span >= 0 && span / stride + 1 == out ? (0, 0) : (0, -exact)
    }

    static func md(_ lib: DNNLLibrary, _ dims: [Int], strides: [Int]) throws -> dnnl_memory_desc_t {
        var m = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }, st = strides.map { Int64($0) }
        try check(lib.md_init_by_strides(&m, Int32(d.count), d, dnnl_f32, st), "memory_desc_init_by_strides \(dims)", nil)
        return m
    }

    static func md(_ lib: DNNLLibrary, _ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var m = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        try check(lib.md_init_by_tag(&m, Int32(d.count), d, dnnl_f32, tag), "memory_desc_init_by_tag \(dims)", nil)
        return m
    }

    static func check(_ s: dnnl_status_t, _ what: String, _ key: DNNLConvKey?) throws {
        if s != dnnl_success {
            throw OneDNNError("oneDNN \(what) failed with status \(s.rawValue)" + (key.map { " for \($0)" } ?? ""))
        }
    }
}

/// DNNL_ARG_* values (macros aliasing macros, which Swift does not import).
enum DNNLArg {
    static let src: Int32 = 1, dst: Int32 = 17, weights: Int32 = 33, bias: Int32 = 41
    static let scratchpad: Int32 = 80
    static let diffSrc: Int32 = 129, diffDst: Int32 = 145, diffWeights: Int32 = 161, diffBias: Int32 = 169
    static let from: Int32 = 1, to: Int32 = 17
}
