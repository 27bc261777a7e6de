import CDNNL
#if canImport(Glibc)
import Glibc
#endif

/// The oneDNN engine: a cache of `DNNLConvPlan`s keyed by shape, geometry, direction and bias,
/// the one workspace they all run in, and its own stream. One lock covers lookup and
/// execution: a plan's memory objects and the workspace are stateful, and each rank has one
/// training thread, so it is uncontended. Two backends share nothing but the loaded library,
/// so two models with their own backends can run side by side.
///
/// `@unchecked Sendable`: every mutable field is read and written under `lock`.
public final class OneDNNConvBackend: ConvBackend, @unchecked Sendable {
    let lib: DNNLLibrary
    /// Whether 3×3 stride-1 convolutions may run as Winograd F(4×4, 3×3) where the CPU has an
    /// implementation (AVX-512).
    public let winograd: Bool
    /// The OpenMP thread count set before every call; nil: OpenBLAS's current count.
    public let threads: Int?

    private let lock = PThreadMutex()
    private let stream: dnnl_stream_t?
    private var plans: [DNNLConvKey: DNNLConvPlan] = [:]
    /// Grown to the largest call's need, never shrunk (it is one layer's blocked buffers).
    private var workspace: UnsafeMutableRawPointer?
    private var workspaceBytes = 0
    private var profiling = false
    private var reorderNanos: UInt64 = 0
    private var primitiveNanos: UInt64 = 0

    /// `libraryName` nil: the process-wide libdnnl (AUTOSAM_DNNL_LIBRARY, else libdnnl.so.2);
    /// a name loads that library instead (tests of the missing-library message). Throws
    /// `OneDNNUnavailable`, naming libdnnl-dev, when it cannot be loaded.
    public init(winograd: Bool = true, threads: Int? = nil, libraryName: String? = nil) throws {
        lib = try libraryName.map { try DNNLLibrary.load(name: $0) } ?? DNNLLibrary.shared()
        stream = try lib.makeStream()
        self.winograd = winograd
        self.threads = threads
    }

    deinit {
        plans = [:]
        free(workspace)
        if let stream { _ = lib.stream_destroy(stream) }
    }

    public var engineName: String { ConvEngine.onednn.rawValue }

    /// The algorithm of every plan made so far, by key (for tests and the benchmark).
    var algorithms: [DNNLConvKey: DNNLConvAlgorithm] {
        lock.lock(); defer { lock.unlock() }
        return plans.mapValues { $0.algorithm }
    }

    /// Megabytes held by the workspace (blocked buffers and scratchpad of the largest call so far).
    public var workspaceMB: Double { lock.lock(); defer { lock.unlock() }; return Double(workspaceBytes) / 1_048_576 }

    /// Plans created so far (tests and the benchmark check that shapes are reused).
    var planCount: Int { lock.lock(); defer { lock.unlock() }; return plans.count }

    /// When on, every call adds the time spent in layout reorders (NCHW ↔ blocked) and in the
    /// primitive itself to counters read by `takeLayoutProfile` (off by default; `bench conv`
    /// turns it on around its timings).
    public var profilesLayout: Bool {
        get { lock.lock(); defer { lock.unlock() }; return profiling }
        set { lock.lock(); defer { lock.unlock() }; profiling = newValue }
    }

    /// Seconds counted in reorders and in primitives since the last take, resetting both.
    public func takeLayoutProfile() -> (reorder: Double, primitive: Double) {
        lock.lock(); defer { lock.unlock() }
        let r = (Double(reorderNanos) / 1e9, Double(primitiveNanos) / 1e9)
        reorderNanos = 0
        primitiveNanos = 0
        return r
    }

    public func conv2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                              activation: ConvActivation) throws -> Tensor {
        try Conv2D.forwardOneDNN(x, weight: weight, bias: bias, g, activation: activation, on: self)
    }

    public func conv2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                               needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        try Conv2D.backwardOneDNN(dy, input: x, weight: weight, g, needInputGrad: needInputGrad, on: self)
    }

    public func convTranspose2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?,
                                       _ g: ConvTranspose2DGeometry) throws -> Tensor {
        try ConvTranspose2D.forwardOneDNN(x, weight: weight, bias: bias, g, on: self)
    }

    public func convTranspose2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                                        needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        try ConvTranspose2D.backwardOneDNN(dy, input: x, weight: weight, g, needInputGrad: needInputGrad, on: self)
    }

    /// Returns whether the primitive applied `activation`.
    @discardableResult
    private func run(_ s: ConvShape, _ d: DNNLConvDirection, bias: Bool, activation: ConvActivation = .none,
                     _ pointers: [UnsafeMutableRawPointer]) throws -> Bool {
        lock.lock(); defer { lock.unlock() }
        let key = DNNLConvKey(s, d, bias: bias, winograd: winograd, activation: activation)
        let plan: DNNLConvPlan
        if let p = plans[key] { plan = p } else { plan = try DNNLConvPlan(lib, key); plans[key] = plan }
        if plan.workspaceBytes > workspaceBytes {
            free(workspace)
            workspace = nil
            workspaceBytes = 0
            guard posix_memalign(&workspace, 64, plan.workspaceBytes) == 0, workspace != nil else {
                workspace = nil
                throw OneDNNError("oneDNN: cannot allocate a \(plan.workspaceBytes)-byte workspace")
            }
            workspaceBytes = plan.workspaceBytes
        }
        lib.setThreads(threads ?? ComputeThreads.openBLASThreads())
        let t = try plan.execute(pointers, workspace: workspace, stream: stream, profile: profiling)
        reorderNanos += t.reorder
        primitiveNanos += t.primitive
        return plan.fusesActivation
    }

    /// y [n,k,oh,ow] = conv(x, w) (+ bias), overwritten, with `activation` applied where the
    /// primitive fuses it; returns whether it did.
    @discardableResult
    func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>, _ s: ConvShape, activation: ConvActivation = .none) throws -> Bool {
        var p = [UnsafeMutableRawPointer(mutating: x), UnsafeMutableRawPointer(mutating: w)]
        if let bias { p.append(UnsafeMutableRawPointer(mutating: bias)) }
        p.append(UnsafeMutableRawPointer(y))
        return try run(s, .forward, bias: bias != nil, activation: activation, p)
    }

    /// dx [n,c,h,w] = convᵀ(dy, w), overwritten.
    func backwardData(dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                      _ s: ConvShape) throws {
        try run(s, .backwardData, bias: false,
                [UnsafeMutableRawPointer(mutating: dy), UnsafeMutableRawPointer(mutating: w), UnsafeMutableRawPointer(dx)])
    }

    /// dw [k, c/groups, kh, kw] (and db [k] when given) from x and dy, overwritten.
    func backwardWeights(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                         db: UnsafeMutablePointer<Float>?, _ s: ConvShape) throws {
        var p = [UnsafeMutableRawPointer(mutating: x), UnsafeMutableRawPointer(mutating: dy), UnsafeMutableRawPointer(dw)]
        if let db { p.append(UnsafeMutableRawPointer(db)) }
        try run(s, .backwardWeights, bias: db != nil, p)
    }
}
