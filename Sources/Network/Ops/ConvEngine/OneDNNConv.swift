#if canImport(Glibc)
import Glibc
#endif

/// The oneDNN convolution engine: a process-wide cache of `DNNLConvPlan`s keyed by shape,
/// geometry, direction and bias, and the one workspace they all run in. One lock covers lookup
/// and execution: a plan's memory objects and the workspace are stateful, and each rank has one
/// training thread, so it is uncontended.
final class OneDNNConv {
    static let shared = OneDNNConv()

    private let lock = PThreadMutex()
    private var plans: [DNNLConvKey: DNNLConvPlan] = [:]
    /// Grown to the largest call's need, never shrunk (it is one layer's blocked buffers).
    private var workspace: UnsafeMutableRawPointer?
    private var workspaceBytes = 0

    /// Whether 3×3 stride-1 convolutions may run as Winograd (AUTOSAM_CONV_WINOGRAD=0 turns it off).
    private var winograd: Bool = {
        let v = getenv("AUTOSAM_CONV_WINOGRAD").map { String(cString: $0).lowercased() }
        return !["0", "off", "false", "no"].contains(v ?? "")
    }()

    var allowsWinograd: Bool {
        get { lock.lock(); defer { lock.unlock() }; return winograd }
        set { lock.lock(); defer { lock.unlock() }; winograd = newValue }
    }

    /// The algorithm of every plan made so far, by key (for tests and the benchmark).
    var algorithms: [DNNLConvKey: DNNLConvAlgorithm] {
        lock.lock(); defer { lock.unlock() }
        return plans.mapValues { $0.algorithm }
    }

    /// Bytes held by the shared workspace.
    var workspaceCapacity: Int { lock.lock(); defer { lock.unlock() }; return workspaceBytes }

    /// Plans created so far (tests and the benchmark check that shapes are reused).
    var planCount: Int { lock.lock(); defer { lock.unlock() }; return plans.count }

    /// Returns whether the primitive applied `activation`.
    @discardableResult
    private func run(_ s: ConvShape, _ d: DNNLConvDirection, bias: Bool, activation: ConvActivation = .none,
                     _ pointers: [UnsafeMutableRawPointer]) -> Bool {
        let lib: DNNLLibrary
        do { lib = try DNNLLibrary.shared() } catch { fatalError("\(error)") }
        lock.lock(); defer { lock.unlock() }
        let key = DNNLConvKey(s, d, bias: bias, winograd: winograd, activation: activation)
        let plan: DNNLConvPlan
        if let p = plans[key] { plan = p } else { plan = DNNLConvPlan(lib, key); plans[key] = plan }
        if plan.workspaceBytes > workspaceBytes {
            free(workspace)
            workspace = nil
            guard posix_memalign(&workspace, 64, plan.workspaceBytes) == 0, workspace != nil else {
                fatalError("oneDNN: cannot allocate a \(plan.workspaceBytes)-byte workspace")
            }
            workspaceBytes = plan.workspaceBytes
        }
        lib.setThreads(ComputeThreads.effective)
        plan.execute(pointers, workspace: workspace)
        return plan.fusesActivation
    }

    /// y [n,k,oh,ow] = conv(x, w) (+ bias), overwritten, with `activation` applied where the
    /// primitive fuses it; returns whether it did.
    @discardableResult
    func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>, _ s: ConvShape, activation: ConvActivation = .none) -> Bool {
        var p = [UnsafeMutableRawPointer(mutating: x), UnsafeMutableRawPointer(mutating: w)]
        if let bias { p.append(UnsafeMutableRawPointer(mutating: bias)) }
        p.append(UnsafeMutableRawPointer(y))
        return run(s, .forward, bias: bias != nil, activation: activation, p)
    }

    /// dx [n,c,h,w] = convᵀ(dy, w), overwritten.
    func backwardData(dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                      _ s: ConvShape) {
        run(s, .backwardData, bias: false,
            [UnsafeMutableRawPointer(mutating: dy), UnsafeMutableRawPointer(mutating: w), UnsafeMutableRawPointer(dx)])
    }

    /// dw [k, c/groups, kh, kw] (and db [k] when given) from x and dy, overwritten.
    func backwardWeights(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                         db: UnsafeMutablePointer<Float>?, _ s: ConvShape) {
        var p = [UnsafeMutableRawPointer(mutating: x), UnsafeMutableRawPointer(mutating: dy), UnsafeMutableRawPointer(dw)]
        if let db { p.append(UnsafeMutableRawPointer(db)) }
        run(s, .backwardWeights, bias: db != nil, p)
    }
}
