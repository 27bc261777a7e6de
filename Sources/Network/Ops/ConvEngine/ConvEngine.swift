#if canImport(Glibc)
import Glibc
#endif

/// Which implementation runs Conv2D and ConvTranspose2D.
///   - `.reference`: im2col + sgemm (ConvKernels); what the finite-difference tests check.
///   - `.onednn`: oneDNN 2.x primitives through libdnnl, opened at run time.
/// Chosen by `ConvEngine.select` (config) or AUTOSAM_CONV_ENGINE=reference|onednn|auto;
/// "auto" (the default) takes oneDNN when the library loads and the reference otherwise.
public enum ConvEngine: String, CaseIterable, Sendable {
    case reference, onednn

    private static let lock = PThreadMutex()
    private static var selected: ConvEngine?

    /// The engine the ops dispatch to; resolved from AUTOSAM_CONV_ENGINE on first use. A run that
    /// needs a particular engine should call `select` at start, which throws instead of stopping.
    public static var current: ConvEngine {
        get {
            lock.lock(); defer { lock.unlock() }
            if let selected { return selected }
            let env = getenv("AUTOSAM_CONV_ENGINE").map { String(cString: $0) }
            do {
                let e = try resolve(env)
                selected = e
                return e
            } catch {
                fatalError("\(error)")
            }
        }
        set {
            lock.lock(); defer { lock.unlock() }
            selected = newValue
        }
    }

    /// Resolves and installs the engine for a request ("reference", "onednn", "auto" or nil:
    /// then AUTOSAM_CONV_ENGINE, else auto). Throws `OneDNNUnavailable` (naming libdnnl-dev)
    /// when oneDNN was asked for explicitly and cannot be loaded.
    @discardableResult
    public static func select(_ request: String?) throws -> ConvEngine {
        let r = request ?? getenv("AUTOSAM_CONV_ENGINE").map { String(cString: $0) }
        let e = try resolve(r)
        current = e
        return e
    }

    static func resolve(_ request: String?) throws -> ConvEngine {
        switch request?.lowercased() {
        case "reference", "im2col":
            return .reference
        case "onednn", "dnnl":
            _ = try DNNLLibrary.shared()
            return .onednn
        case nil, "", "auto":
            return isOneDNNAvailable ? .onednn : .reference
        case let other?:
            throw ConvEngineError.unknown(other)
        }
    }

    /// Whether libdnnl loads on this machine.
    public static var isOneDNNAvailable: Bool { (try? DNNLLibrary.shared()) != nil }

    /// Loads oneDNN, throwing the libdnnl-dev message when it cannot.
    public static func requireOneDNN() throws { _ = try DNNLLibrary.shared() }

    /// Turns on the oneDNN engine's split of time between layout reorders and primitives, and
    /// returns the seconds counted so far (reorder, primitive), resetting the counters.
    public static func oneDNNLayoutProfile(enable: Bool) -> (reorder: Double, primitive: Double) {
        let r = (Double(DNNLConvPlan.reorderNanos) / 1e9, Double(DNNLConvPlan.primitiveNanos) / 1e9)
        DNNLConvPlan.profiling = enable
        DNNLConvPlan.reorderNanos = 0
        DNNLConvPlan.primitiveNanos = 0
        return r
    }

    /// Whether the oneDNN engine runs 3×3 stride-1 convolutions as Winograd F(4×4, 3×3) where
    /// the CPU has an implementation (AVX-512); default on, AUTOSAM_CONV_WINOGRAD=0 turns it off.
    public static var winograd: Bool {
        get { OneDNNConv.shared.allowsWinograd }
        set { OneDNNConv.shared.allowsWinograd = newValue }
    }

    /// Megabytes of the oneDNN engine's shared workspace (blocked buffers and scratchpad of the
    /// largest call so far).
    public static var oneDNNWorkspaceMB: Double { Double(OneDNNConv.shared.workspaceCapacity) / 1_048_576 }

    /// oneDNN's version and CPU runtime, when loaded.
    public static var oneDNNVersion: String? { (try? DNNLLibrary.shared())?.version }
}

public enum ConvEngineError: Error, CustomStringConvertible {
    case unknown(String)
    public var description: String {
        switch self {
        case .unknown(let s): return "unknown convolution engine \"\(s)\" (want reference, onednn or auto)"
        }
    }
}
