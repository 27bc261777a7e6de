import Foundation

/// The CPUs this process may run on (its affinity mask, which mpirun's binding sets), read
/// from /proc/self/status (Glibc's module does not export sched_getaffinity).
public enum CPUAffinity {
    /// How many CPUs the mask allows; nil where the system does not say.
    public static var allowedCPUs: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return count(list: String(line.dropFirst("Cpus_allowed_list:".count)))
    }

    /// CPUs in a kernel list such as "0-3,8,10-11"; nil when it does not parse.
    static func count(list: String) -> Int? {
        var n = 0
        for part in list.trimmingCharacters(in: .whitespaces).split(separator: ",") {
            let ends = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch ends.count {
            case 1: guard ends[0] != nil else { return nil }; n += 1
            case 2: guard let a = ends[0], let b = ends[1], b >= a else { return nil }; n += b - a + 1
            default: return nil
            }
        }
        return n > 0 ? n : nil
    }
}
