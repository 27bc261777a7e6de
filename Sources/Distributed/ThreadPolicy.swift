import Foundation
import Network
#if canImport(Glibc)
import Glibc
#endif

/// How many compute threads a rank uses: an explicit setting wins, then
/// OPENBLAS_NUM_THREADS, else the cores this rank may run on (its CPU affinity mask, which
/// mpirun's binding sets) shared among the ranks of its host that share them, so
/// ranks × threads never oversubscribes a core.
public enum ThreadPolicy {
    public static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Ranks sharing this host, as Open MPI's launcher reports it (1 without mpirun).
    public static var localRanks: Int { environmentInt("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1 }
    static var localRank: Int { environmentInt("OMPI_COMM_WORLD_LOCAL_RANK") ?? 0 }

    static func environmentInt(_ name: String) -> Int? {
        guard let s = getenv(name), let n = Int(String(cString: s)), n >= 0 else { return nil }
        return n
    }

    /// The count and why: the cores in this rank's affinity mask, but no more than its share
    /// of the host (cores ÷ local ranks), so a rank bound to one core runs one thread and
    /// unbound ranks split the host.
    public static func resolve(explicit: Int?) -> (threads: Int, reason: String) {
        if let n = explicit, n > 0 { return (n, "--threads") }
        if let n = environmentInt("OPENBLAS_NUM_THREADS"), n > 0 { return (n, "OPENBLAS_NUM_THREADS") }
        let cores = onlineCores, ranks = max(1, localRanks)
        let allowed = min(CPUAffinity.allowedCPUs ?? cores, cores)
        let share = max(1, cores / ranks)
        return (max(1, min(allowed, share)), "may run on \(allowed) of \(cores) cores, \(ranks) rank(s) on this host")
    }

    /// Applies the resolved count to every compute library and returns it; the first local
    /// rank of each host says what it chose when `announce` is given.
    @discardableResult
    public static func apply(explicit: Int?, announce comm: Communicator? = nil) -> Int {
        let (n, reason) = resolve(explicit: explicit)
        ComputeThreads.set(n)
        if comm != nil, localRank == 0 {
            let host = ProcessInfo.processInfo.hostName
            FileHandle.standardError.write(Data("threads per rank on \(host): \(n) (\(reason))\n".utf8))
        }
        return n
    }
}
