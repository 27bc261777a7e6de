import Foundation
import TestSupport
import XCTest

/// Test hosts made by Launch/testhosts.sh (network namespaces on this machine, root only), and
/// jobs launched on them through Launch/multihost.sh. `up` hands the script this process as
/// owner, so the hosts go away even if the test process dies before `down`.
final class TestHosts {
    struct Host { let address: String; let namespace: String; let veth: String }
    static let script = TestPaths.packageRoot + "/Launch/testhosts.sh"
    let dir: String
    let hosts: [Host]
    let subnet: String
    private var isUp = true

    /// XCTSkip unless this process may make network namespaces.
    static func requireNetns() throws {
        guard getuid() == 0 else { throw XCTSkip("multi-host tests need root: test hosts are network namespaces (ip netns)") }
        let r = try? ProgramRunner.run("/bin/sh", ["-c", "command -v ip >/dev/null && ip netns list"])
        guard r?.status == 0 else { throw XCTSkip("`ip netns` is not available here (iproute2 missing or no namespace support)") }
    }

    init(_ count: Int, slots: [Int] = [1], link: String = "none") throws {
        try Self.requireNetns()
        let r = try ProgramRunner.run("/bin/bash", [Self.script, "up", "\(count)", "--link", link, "--owner", "\(getpid())",
                                                    "--slots", slots.map(String.init).joined(separator: ",")], timeout: 60)
        if r.status != 0 && r.stderr.contains("Operation not permitted") {
            throw XCTSkip("network namespaces cannot be made here: \(r.stderr)")
        }
        guard r.status == 0, let d = r.stdout.split(separator: "\n").last.map(String.init) else {
            throw NSError(domain: "TestHosts", code: 1, userInfo: [NSLocalizedDescriptionKey: "testhosts.sh up failed: \(r.stderr)"])
        }
        dir = d
        hosts = try String(contentsOfFile: d + "/hosts", encoding: .utf8).split(separator: "\n").map {
            let f = $0.split(separator: " ").map(String.init)
            return Host(address: f[0], namespace: f[1], veth: f[2])
        }
        subnet = try String(contentsOfFile: d + "/subnet", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { down() }

    func down() {
        guard isUp else { return }
        isUp = false
        _ = try? ProgramRunner.run("/bin/bash", [Self.script, "down", dir], timeout: 60)
    }

    var hostfile: String { dir + "/hostfile" }
    var agent: String { dir + "/agent" }

    /// Takes host `i` off the network (`ip link set <veth> down`).
    func cut(_ i: Int) throws {
        let r = try ProgramRunner.run("/bin/bash", [Self.script, "cut", dir, "\(i)"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// The autosam-dist ranks running on these hosts now: rank → (host index, pid). A process
    /// belongs to a host when it runs in that host's network namespace.
    func ranks() -> [Int: (host: Int, pid: pid_t)] {
        var inode: [UInt64: Int] = [:]
        for (i, h) in hosts.enumerated() {
            var st = stat()
            if stat("/run/netns/\(h.namespace)", &st) == 0 { inode[UInt64(st.st_ino)] = i }
        }
        var out: [Int: (host: Int, pid: pid_t)] = [:]
        for e in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(e),
                  let comm = try? String(contentsOfFile: "/proc/\(e)/comm", encoding: .utf8), comm.hasPrefix("autosam"),
                  let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(e)/ns/net"),
                  let ino = UInt64(ns.dropFirst(5).dropLast()), let host = inode[ino],
                  let env = FileManager.default.contents(atPath: "/proc/\(e)/environ") else { continue }
            let rank = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                .first { $0.hasPrefix("OMPI_COMM_WORLD_RANK=") }.flatMap { Int($0.dropFirst(21)) }
            if let rank { out[rank] = (host, pid) }
        }
        return out
    }

    /// Launch/multihost.sh on these hosts: transports on their subnet, their rsh agent, one
    /// thread per rank and no binding (the hosts share this machine's cores).
    func launch(binary: URL, ranks: Int, restarts: Int = 0, launchTimeout: Int = 120, agent: String? = nil,
                _ command: [String]) throws -> LauncherJob {
        try LauncherJob(TestPaths.packageRoot + "/Launch/multihost.sh",
                        ["--hostfile", hostfile, "--ranks", "\(ranks)", "--threads", "1", "--no-bind", "--subnet", subnet,
                         "--agent", agent ?? self.agent, "--max-restarts", "\(restarts)", "--launch-timeout", "\(launchTimeout)",
                         "--"] + command,
                        environment: ["BIN": binary.path])
    }

    /// An rsh agent for these hosts under which host `i` accepts every command and never runs
    /// it (a daemon that hangs at start, a probe that never answers); what it leaves running is
    /// inside the host, so `down` removes it.
    func hangingAgent(host i: Int) throws -> String {
        let path = dir + "/agent-hangs-\(i)"
        let text = "#!/bin/sh\n# \(hosts[i].address) takes commands and never runs them\n"
            + "[ \"$1\" = \"\(hosts[i].address)\" ] && exec ip netns exec \(hosts[i].namespace) sleep 100000\nexec \(agent) \"$@\"\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// What runs on these hosts and from mpirun, for a test's failure message.
    func processes() -> String {
        var lines: [String] = []
        for h in hosts {
            let pids = (try? ProgramRunner.run("/bin/sh", ["-c", "ip netns pids \(h.namespace)"]))?.stdout ?? ""
            lines.append("\(h.address) (\(h.namespace)): pids \(pids.split(separator: "\n").joined(separator: " "))")
        }
        let ps = (try? ProgramRunner.run("/bin/sh", ["-c", "ps -eo pid,ppid,stat,etime,args | grep -E 'mpirun|orted|autosam-dist|agent' | grep -v grep"]))?.stdout ?? ""
        return (lines + [ps]).joined(separator: "\n")
    }
}

/// A launcher script running in the background, its output in files, so a test can act on a
/// job while it runs. Stopping it (SIGTERM) stops the mpirun it runs.
final class LauncherJob: BackgroundJob {
    let process = Process()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("launcher-\(UUID().uuidString)")

    init(_ script: String, _ args: [String], environment extra: [String: String]) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + args
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        for (k, v) in extra { env[k] = v }
        process.environment = env
        for name in ["stdout", "stderr"] { _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: dir.appendingPathComponent("stdout"))
        process.standardError = try FileHandle(forWritingTo: dir.appendingPathComponent("stderr"))
        try process.run()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: dir)
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        if finish(within: 10) == nil { kill(process.processIdentifier, SIGKILL) }
    }

}
