/// The oneDNN convolution engine: a process-wide cache of `DNNLConvPlan`s keyed by shape,
/// geometry, direction and bias. One lock covers lookup and execution: a plan's memory objects
/// and reorder buffers are stateful, and each rank has one training thread, so it is uncontended.
final class OneDNNConv {
    static let shared = OneDNNConv()

    private let lock = PThreadMutex()
    private var plans: [DNNLConvKey: DNNLConvPlan] = [:]

    /// Plans created so far (tests and the benchmark check that shapes are reused).
    var planCount: Int { lock.lock(); defer { lock.unlock() }; return plans.count }

    private func run(_ s: ConvShape, _ d: DNNLConvDirection, bias: Bool, _ pointers: [UnsafeMutableRawPointer]) {
        let lib: DNNLLibrary
        do { lib = try DNNLLibrary.shared() } catch { fatalError("\(error)") }
        let key = DNNLConvKey(s, d, bias: bias)
        lock.lock(); defer { lock.unlock() }
        let plan: DNNLConvPlan
        if let p = plans[key] { plan = p } else { plan = DNNLConvPlan(lib, key); plans[key] = plan }
        lib.setThreads(ComputeThreads.effective)
        plan.execute(pointers)
    }

    /// y [n,k,oh,ow] = conv(x, w) (+ bias), overwritten.
    func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>, _ s: ConvShape) {
        var p = [UnsafeMutableRawPointer(mutating: x), UnsafeMutableRawPointer(mutating: w)]
        if let bias { p.append(UnsafeMutableRawPointer(mutating: bias)) }
        p.append(UnsafeMutableRawPointer(y))
        run(s, .forward, bias: bias != nil, p)
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
