#if canImport(Glibc)
import Glibc
#endif

/// The CPUs this process may run on (its affinity mask, which mpirun's binding sets).
public enum CPUAffinity {
    /// How many CPUs the mask allows; nil where the system does not say.
    public static var allowedCPUs: Int? {
        var set = cpu_set_t()
        let ok = withUnsafeMutablePointer(to: &set) { sched_getaffinity(0, MemoryLayout<cpu_set_t>.size, $0) } == 0
        guard ok else { return nil }
        let n = withUnsafeBytes(of: &set) { $0.reduce(0) { $0 + $1.nonzeroBitCount } }
        return n > 0 ? n : nil
    }
}
