import Foundation
import XCTest

/// Runs the built `autosam-dist` binary (directly or under mpirun) and captures its output.
public enum ProgramRunner {
    public static var binary: URL? {
        // Test bundles live next to the package's executables in .build/<config>/.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("autosam-dist")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    public static func requireBinary() throws -> URL {
        guard let b = binary else { throw XCTSkip("autosam-dist is not built next to the tests; run `swift build` first") }
        return b
    }

    public static var mpirun: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public struct Result { public var status: Int32; public var stdout: String; public var stderr: String }

    public static func run(_ executable: String, _ args: [String], environment extra: [String: String] = [:],
                           timeout: TimeInterval = 120) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        // Root is allowed, more ranks than cores are allowed, and no ssh is needed on one host.
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        env["OMPI_MCA_plm"] = "isolated"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        // Output goes to temporary files: no pipe can fill up and block the child.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("autosam-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning {
            p.terminate()
            throw NSError(domain: "ProgramRunner", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(executable) \(args) timed out after \(timeout) s"])
        }
        let outData = (try? Data(contentsOf: outURL)) ?? Data()
        let errData = (try? Data(contentsOf: errURL)) ?? Data()
        return Result(status: p.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

}
