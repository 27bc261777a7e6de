import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Timing and memory readings shared by every benchmark (the `bench` subcommands and
/// TrainBenchmark): monotonic clock, median of repeats, and the resident-set high-water mark.
public enum BenchClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Median seconds of `repeats` runs, after one warm-up run unless `warmup` is false.
    public static func median(repeats: Int, warmup: Bool = true, _ body: () throws -> Void) rethrows -> Double {
        if warmup { try body() }
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = now()
            try body()
            times.append(now() - t0)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// Resident-set high-water mark (VmHWM) in MB.
    public static func peakRSSMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) / 1024
        }
        return 0
    }

    /// Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux ≥ 4.0).
    public static func resetPeakRSS() {
        if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            h.write(Data("5".utf8))
            try? h.close()
        }
    }
}
