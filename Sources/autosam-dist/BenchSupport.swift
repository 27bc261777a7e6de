import Foundation
import Network

/// Timing and memory helpers shared by the `bench` subcommands.
enum BenchSupport {
    static func format(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v) }

    /// One JSON object per line, keys sorted for stable output.
    static func jsonLine(_ obj: [String: Any]) -> String {
        let d = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
        return String(decoding: d, as: UTF8.self)
    }

    /// A Python with torch, for reference timings in the same run (nil when none is found).
    static func torchPython() -> String? {
        var candidates: [String] = []
        if let p = ProcessInfo.processInfo.environment["AUTOSAM_TORCH_PYTHON"] { candidates.append(p) }
        candidates += ["/opt/torchref/bin/python", "/usr/bin/python3"]
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: c)
            p.arguments = ["-c", "import torch"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            if (try? p.run()) != nil {
                p.waitUntilExit()
                if p.terminationStatus == 0 { return c }
            }
        }
        return nil
    }

    /// Runs a Tools/reference script and returns its JSON-lines output parsed.
    static func runReference(_ python: String, script: String, args: [String]) -> [[String: Any]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        guard (try? p.run()) != nil else { return [] }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return jsonRows(String(decoding: data, as: UTF8.self))
    }

    /// The lines of `text` that are JSON objects.
    static func jsonRows(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Runs `path` with `args`, stderr passed through; the exit status and stdout.
    /// Runs a program to its end and returns its status and stdout (stderr passes through).
    /// With `timeout`, a run still going then is sent SIGTERM (`timedOut` tells).
    static func capture(_ path: String, _ args: [String], environment: [String: String],
                        timeout: Double? = nil) throws -> (Int32, String) {
        let r = try captureTimed(path, args, environment: environment, timeout: timeout)
        return (r.0, r.1)
    }

    static func captureTimed(_ path: String, _ args: [String], environment: [String: String],
                             timeout: Double?) throws -> (Int32, String, timedOut: Bool) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        try p.run()
        let fired = LockedFlag()
        if let timeout {
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if p.isRunning { fired.set(); p.terminate() }
            }
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self), fired.value)
    }

    /// `name` found on PATH.
    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// This program's own file, to launch it again.
    static var selfExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Tools/reference relative to the package root (found from the binary's location or cwd).
    static func referenceScript(_ name: String) -> String? { packageFile("Tools/reference/" + name) }

    /// A file at `relative` under the package root (found from the binary's location or cwd).
    static func packageFile(_ relative: String) -> String? {
        var dirs = [FileManager.default.currentDirectoryPath]
        var d = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 { dirs.append(d.path); d = d.deletingLastPathComponent() }
        for dir in dirs {
            let p = dir + "/" + relative
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }
}

/// A flag one thread sets and another reads.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set_ = false
    func set() { lock.lock(); set_ = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return set_ }
}
