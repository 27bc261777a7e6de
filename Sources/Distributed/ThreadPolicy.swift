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

    /// Applies the resolved count to every compute library and returns it.
    @discardableResult
    public static func apply(explicit: Int?) -> Int {
        let n = resolve(explicit: explicit)
        ComputeThreads.set(n)
        return n
    }
}
