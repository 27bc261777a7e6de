import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A progress bar with images/s and ETA on a terminal; plain lines (every ~10%) otherwise.
package final class ProgressReporter {
    let enabled: Bool
    /// Under mpirun a rank's stdout is a pseudo-terminal even when the job's output goes to a
    /// file, so redrawn bars are kept for direct runs on a terminal.
    let isTerminal = isatty(STDOUT_FILENO) != 0 && getenv("OMPI_COMM_WORLD_SIZE") == nil
    var total = 0, label = "", start = Date(), lastDecile = -1

    let emit: (String) -> Void

    /// Lines go through `emit` (the trainer's output), so a silenced trainer stays silent.
    package init(enabled: Bool, emit: @escaping (String) -> Void) {
        self.enabled = enabled
        self.emit = emit
    }

    package func start(total: Int, label: String) {
        self.total = total
        self.label = label
        start = Date()
        lastDecile = -1
    }

    package func update(done: Int, extra: String) {
        guard enabled, total > 0 else { return }
        let el = Date().timeIntervalSince(start)
        let rate = Double(done) / max(el, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let text = "\(label) \(done)/\(total) \(String(format: "%.2f", rate)) img/s ETA \(Int(eta))s \(extra)"
        if isTerminal {
            let width = 24, filled = width * done / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            print("\r\(bar) \(text)\u{1B}[K", terminator: "")
            fflush(nil)
        } else {
            let decile = 10 * done / total
            if decile > lastDecile { lastDecile = decile; emit(text); fflush(nil) }
        }
    }

    package func finish() {
        if enabled && isTerminal { print("") }
    }
}

/// A number with fixed decimals, for log and progress lines (the trainers' and the figure jobs').
package func fmt(_ v: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", v) }
