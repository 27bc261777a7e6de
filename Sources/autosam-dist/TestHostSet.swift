import ArgumentParser
import Foundation

/// Test hosts made by Launch/testhosts.sh for the time of one measurement: network namespaces
/// of this machine on a bridge, with a hostfile, an rsh agent and a subnet of their own. `down`
/// removes them; the script's watcher does so too if this process ends first (a crash, ^C).
struct TestHostSet {
    let script: String
    let dir: String
    let subnet: String
    var hostfile: String { dir + "/hostfile" }
    var agent: String { dir + "/agent" }

    static func up(count: Int, link: String) throws -> TestHostSet {
        guard let script = BenchSupport.packageFile("Launch/testhosts.sh") else {
            throw ValidationError("Launch/testhosts.sh not found beside the binary or in the current directory")
        }
        let (status, out) = try BenchSupport.capture("/bin/bash", [script, "up", "\(count)", "--link", link, "--owner", "\(getpid())"],
                                                     environment: ProcessInfo.processInfo.environment)
        guard status == 0, let dir = out.split(separator: "\n").last.map(String.init),
              let subnet = try? String(contentsOfFile: dir + "/subnet", encoding: .utf8) else {
            throw ValidationError("testhosts.sh up \(count) failed (exit \(status)); its messages are above")
        }
        return TestHostSet(script: script, dir: dir, subnet: subnet.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Every host's link reshaped (1gbit, 10gbit or none).
    func shape(_ link: String) throws {
        let (status, _) = try BenchSupport.capture("/bin/bash", [script, "shape", dir, link], environment: ProcessInfo.processInfo.environment)
        guard status == 0 else { throw ValidationError("testhosts.sh shape \(link) failed (exit \(status)); its messages are above") }
    }

    func down() {
        _ = try? BenchSupport.capture("/bin/bash", [script, "down", dir], environment: ProcessInfo.processInfo.environment)
    }

    /// mpirun's flags for a job on these hosts: transports on their subnet, daemons started
    /// through their agent, a lost host noticed in seconds (toolchain §8), ranks unbound (the
    /// hosts share this machine's cores).
    var mpirunFlags: [String] {
        ["--hostfile", hostfile, "--bind-to", "none", "--mca", "btl", "tcp,self",
         "--mca", "btl_tcp_if_include", subnet, "--mca", "oob_tcp_if_include", subnet,
         "--mca", "plm_rsh_agent", agent, "--mca", "plm_rsh_no_tree_spawn", "1",
         "--mca", "oob_tcp_keepalive_time", "10", "--mca", "oob_tcp_keepalive_intvl", "3", "--mca", "oob_tcp_keepalive_probes", "3"]
    }
}
