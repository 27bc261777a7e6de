import Foundation

/// A program a test started in the background, writing stdout and stderr files into `dir`:
/// what MPIJob (mpirun on one host) and LauncherJob (multihost.sh) share.
protocol BackgroundJob {
    var process: Process { get }
    var dir: URL { get }
}

extension BackgroundJob {
    var stdout: String { (try? String(contentsOf: dir.appendingPathComponent("stdout"), encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: dir.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }

    /// Waits until `condition` holds or the job ends; false on timeout or when the job ended first.
    func wait(upTo seconds: TimeInterval, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(100_000)
        }
        return false
    }

    /// Waits for the job to end, calling `watch` while it runs; its exit status, or nil on timeout.
    func finish(within seconds: TimeInterval, watch: () -> Void = {}) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { watch(); usleep(100_000) }
        return process.isRunning ? nil : process.terminationStatus
    }
}
