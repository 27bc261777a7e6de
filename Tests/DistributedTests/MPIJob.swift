import Foundation
import XCTest

/// An mpirun job of the built binary running in the background, so a test can watch its
/// files and signal its ranks (SIGKILL, SIGSTOP) while it runs. Each job's ranks carry a
/// marker variable, so their processes are found through /proc.
final class MPIJob: BackgroundJob {
    let process = Process()
    let marker = UUID().uuidString
    let dir: URL
    let started = Date()

    init(ranks: Int, _ args: [String], binary: URL, mpirun: String, environment: [String: String] = [:]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mpijob-\(marker)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: mpirun)
        let exported = environment.keys.sorted().flatMap { ["-x", "\($0)=\(environment[$0]!)"] }
        process.arguments = ["-n", "\(ranks)", "-x", "OPENBLAS_NUM_THREADS=1", "-x", "AUTOSAM_TEST_JOB=\(marker)"] + exported + [binary.path] + args
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        env["OMPI_MCA_plm"] = "isolated"
        process.environment = env
        FileManager.default.createFile(atPath: dir.appendingPathComponent("stdout").path, contents: nil)
        FileManager.default.createFile(atPath: dir.appendingPathComponent("stderr").path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: dir.appendingPathComponent("stdout"))
        process.standardError = try FileHandle(forWritingTo: dir.appendingPathComponent("stderr"))
        try process.run()
    }

    deinit {
        for pid in rankPIDs().values { kill(pid, SIGCONT); kill(pid, SIGKILL) }
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: dir)
    }

    /// This job's rank processes by rank.
    func rankPIDs() -> [Int: pid_t] {
        var out: [Int: pid_t] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for e in entries {
            guard let pid = pid_t(e), let env = FileManager.default.contents(atPath: "/proc/\(e)/environ") else { continue }
            let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard vars.contains("AUTOSAM_TEST_JOB=\(marker)"),
                  let r = vars.first(where: { $0.hasPrefix("OMPI_COMM_WORLD_RANK=") }).flatMap({ Int($0.dropFirst(21)) }) else { continue }
            // mpirun's own helpers carry the variable too; the rank is the autosam-dist process.
            let comm = (try? String(contentsOfFile: "/proc/\(e)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if comm.hasPrefix("autosam") { out[r] = pid }
        }
        return out
    }
}
