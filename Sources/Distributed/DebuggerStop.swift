import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `AUTOSAM_STOP_RANK=r` (or a comma-separated list): rank r stops itself with SIGSTOP right
/// after MPI starts, printing its pid, so a debugger can attach before it runs anything
/// (`lldb -p PID` or `gdb -p PID`, then continue). The other ranks wait in their first
/// collective; set `distributed.timeout_s: 0` so the watchdog does not end the job meanwhile.
enum DebuggerStop {
    static func honour(rank: Int, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let spec = environment["AUTOSAM_STOP_RANK"],
              spec.split(separator: ",").compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }).contains(rank) else { return }
        let pid = getpid()
        FileHandle.standardError.write(Data(("rank \(rank) (pid \(pid)) stopped for a debugger (AUTOSAM_STOP_RANK): "
            + "attach with `lldb -p \(pid)` or `gdb -p \(pid)` and continue, or `kill -CONT \(pid)`\n").utf8))
        raise(SIGSTOP)
    }
}
