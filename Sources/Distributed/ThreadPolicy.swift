import Network
#if canImport(Glibc)
import Glibc
#endif

/// How many compute threads a rank uses: an explicit setting wins, then
/// OPENBLAS_NUM_THREADS, else the machine's cores divided by the ranks on this host,
/// so ranks × threads never oversubscribes the cores.
public enum ThreadPolicy {
    public static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Ranks sharing this host, as Open MPI's launcher reports it (1 without mpirun).
    public static var localRanks: Int {
        if let s = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"), let n = Int(String(cString: s)), n > 0 { return n }
        return 1
    }

    public static func resolve(explicit: Int?) -> Int {
        if let n = explicit, n > 0 { return n }
        if let s = getenv("OPENBLAS_NUM_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        return max(1, onlineCores / localRanks)
    }

    /// Applies the resolved count to OpenBLAS (and OMP_NUM_THREADS) and returns it, for a
    /// command that runs no convolutions (`info`); the others build a context with `context`.
    @discardableResult
    public static func apply(explicit: Int?) -> Int {
        let n = resolve(explicit: explicit)
        ComputeThreads.applyToLibraries(n)
        return n
    }

    /// The execution context a command runs with: the resolved thread count (applied to the
    /// libraries) and the convolution engine `engine` names (nil: AUTOSAM_CONV_ENGINE, else
    /// auto). Throws for an unknown engine, or oneDNN asked for but not loadable.
    public static func context(explicit: Int?, engine: String? = nil) throws -> ExecutionContext {
        try ExecutionContext.make(engine: engine, threads: resolve(explicit: explicit))
    }
}
