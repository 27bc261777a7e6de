#if canImport(Glibc)
import Glibc
#endif

/// Where and how a model's compute runs, chosen once by the caller and held by the model (as
/// MLX passes a stream or device): the convolution backend, the thread count given to the
/// compute libraries, and the tuning knobs of the kernels. Immutable; two models built with
/// two contexts run side by side in one process without affecting each other.
///
/// The command line builds one with `make` from its options (`--conv-engine`, `--threads`) and
/// the environment; tests build their own. Nothing inside an op reads the environment.
public final class ExecutionContext {
    /// Runs Conv2D and ConvTranspose2D for every layer of the models built with this context.
    public let convolution: any ConvBackend
    /// The thread count applied to OpenBLAS (process-wide by nature) and given to oneDNN per
    /// call, as `make` set it; nil: the libraries' own defaults.
    public let threads: Int?
    /// Output rows per strip of the frozen encoder's fused MBConv (see `MBConv.callAsFunction`):
    /// the ring of hidden rows and the depthwise output stay in L2/L3 (2.5 MB each at 256
    /// hidden channels, W = 256) while sgemm still gets 2048 columns.
    public let stripRows: Int

    public static let defaultStripRows = 8

    /// Does not touch any library: `threads` is recorded, not applied (`make` applies it).
    public init(convolution: any ConvBackend, threads: Int? = nil, stripRows: Int = ExecutionContext.defaultStripRows) {
        precondition(stripRows >= 1, "ExecutionContext: stripRows must be at least 1")
        precondition(threads.map { $0 >= 1 } ?? true, "ExecutionContext: threads must be at least 1")
        self.convolution = convolution
        self.threads = threads
        self.stripRows = stripRows
    }

    /// The reference engine (im2col + sgemm) with default knobs; applies nothing.
    public static func reference(columnBudget: Int = ReferenceConvBackend.defaultColumnBudget) -> ExecutionContext {
        ExecutionContext(convolution: ReferenceConvBackend(columnBudget: columnBudget))
    }

    /// The same knobs with another convolution backend (a bench's recording decorator).
    public func with(convolution: any ConvBackend) -> ExecutionContext {
        ExecutionContext(convolution: convolution, threads: threads, stripRows: stripRows)
    }

    /// The context a command runs with. `engine` is "reference", "onednn" or "auto" (nil:
    /// AUTOSAM_CONV_ENGINE, else auto); `winograd` lets oneDNN run 3×3 stride-1 convolutions
    /// as Winograd (nil: on unless AUTOSAM_CONV_WINOGRAD is 0/off/false/no); `threads`, when
    /// given, is applied to OpenBLAS and exported as OMP_NUM_THREADS before oneDNN loads.
    /// Called once by the command line or a trainer, never from an op. Throws for an unknown
    /// engine, and when oneDNN was asked for explicitly but libdnnl cannot be loaded (the
    /// message names libdnnl-dev).
    public static func make(engine: String? = nil, winograd: Bool? = nil, threads: Int? = nil) throws -> ExecutionContext {
        let threads = threads.map { max(1, $0) }
        if let threads { ComputeThreads.applyToLibraries(threads) }
        let request = engine ?? environment("AUTOSAM_CONV_ENGINE")
        let backend: any ConvBackend
        switch try ConvEngine.resolve(request) {
        case .reference:
            backend = ReferenceConvBackend()
        case .onednn:
            backend = try OneDNNConvBackend(winograd: winograd ?? environmentAllowsWinograd(), threads: threads)
        }
        return ExecutionContext(convolution: backend, threads: threads)
    }

    /// Whether AUTOSAM_CONV_WINOGRAD lets oneDNN use Winograd: yes unless it is 0/off/false/no.
    public static func environmentAllowsWinograd() -> Bool {
        !["0", "off", "false", "no"].contains(environment("AUTOSAM_CONV_WINOGRAD")?.lowercased() ?? "")
    }

    private static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
}
