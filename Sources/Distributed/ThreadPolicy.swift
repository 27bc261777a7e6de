import Foundation
import Network
#if canImport(Glibc)
import Glibc
#endif

/// How many compute threads a rank uses: an explicit setting wins, then
/// OPENBLAS_NUM_THREADS, else the cores this rank may run on (its CPU affinity mask, which
/// mpirun's binding sets), but no more than its share of the host (cores ÷ local ranks), so a
/// rank bound to one core runs one thread and unbound ranks split the host.
public enum ThreadPolicy {
    public static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Ranks sharing this host, as Open MPI's launcher reports it (1 without mpirun).
    public static var localRanks: Int { max(1, environmentInt("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1) }
    static var localRank: Int { environmentInt("OMPI_COMM_WORLD_LOCAL_RANK") ?? 0 }

    static func environmentInt(_ name: String) -> Int? {
        guard let s = getenv(name), let n = Int(String(cString: s)), n >= 0 else { return nil }
        return n
    }

    /// The count and why.
    public static func decide(explicit: Int?) -> (threads: Int, reason: String) {
        if let n = explicit, n > 0 { return (n, "--threads") }
        if let n = environmentInt("OPENBLAS_NUM_THREADS"), n > 0 { return (n, "OPENBLAS_NUM_THREADS") }
        let cores = onlineCores, ranks = localRanks
        let allowed = min(CPUAffinity.allowedCPUs ?? cores, cores)
        return (max(1, min(allowed, cores / ranks)), "may run on \(allowed) of \(cores) cores, \(ranks) rank(s) on this host")
    }

    public static func resolve(explicit: Int?) -> Int { decide(explicit: explicit).threads }

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
    /// auto). Throws for an unknown engine, or oneDNN asked for but not loadable. With
    /// `announce`, the first local rank of each host says what it chose.
    public static func context(explicit: Int?, engine: String? = nil, announce: Bool = false) throws -> ExecutionContext {
        let (n, reason) = decide(explicit: explicit)
        if announce && localRank == 0 {
            FileHandle.standardError.write(Data("threads per rank on \(ProcessInfo.processInfo.hostName): \(n) (\(reason))\n".utf8))
        }
        return try ExecutionContext.make(engine: engine, threads: n)
    }
}
