import ArgumentParser
import Distributed
import Foundation

/// `bench dist --hosts N --link L`: the data-parallel step with one rank on each of N test
/// hosts whose links are shaped to L, beside what the all-reduce models predict for the
/// compute this run measured (`AllReduceModel`: a ring, and the binomial tree Open MPI runs).
extension BenchDist {
    func runOnTestHosts(_ n: Int) throws {
        guard let mpirun = BenchSupport.executable("mpirun") else { throw ValidationError("mpirun not found on PATH (Launch/setup.sh installs Open MPI)") }
        let threads = deterministic ? 1 : options.threads ?? max(1, ThreadPolicy.onlineCores / n)
        let hosts = try TestHostSet.up(count: n, link: link)
        defer { hosts.down() }
        FileHandle.standardError.write(Data("bench dist: \(n) test host(s) on \(hosts.subnet), link \(link), 1 rank × \(threads) thread(s) each…\n".utf8))
        var env = ProcessInfo.processInfo.environment
        env["OMPI_MCA_plm"] = nil   // the hostfile and the agent place the ranks
        if getuid() == 0 { env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" }
        var me = self
        me.checkpoint = URL(fileURLWithPath: checkpoint).standardizedFileURL.path   // ranks may start elsewhere
        let (status, out) = try BenchSupport.capture(mpirun, ["-n", "\(n)"] + hosts.mpirunFlags
                                                        + me.workerCommand(threads: threads, deterministic: deterministic), environment: env)
        guard status == 0, var row = BenchSupport.jsonRows(out).first else {
            throw ValidationError("mpirun on \(n) test hosts failed (exit \(status)); its messages are above")
        }
        let m = HostsMeasurement(row)
        let rate = AllReduceModel.bitsPerSecond(link)
        let model = AllReduceModel(ranks: n, gradientBytes: m.gradientMB * 1e6, linkBitsPerSecond: rate ?? .infinity)
        row["hosts"] = n
        row["link"] = link
        row["compute_s"] = m.compute
        row["allreduce_own_s"] = m.ownAllReduce
        row["ring_equivalent_gbit"] = model.ringEquivalentBitsPerSecond(allReduceSeconds: m.ownAllReduce) / 1e9
        if rate != nil {
            for (name, t) in [("model", model.ringSeconds), ("model_binomial", model.binomialSeconds)] {
                row[name + "_allreduce_s"] = t
                row[name + "_step_s"] = m.compute + t
                row[name + "_images_per_s"] = Double(batch) / (m.compute + t)
                row[name + "_allreduce_share"] = AllReduceModel.share(compute: m.compute, allReduce: t)
            }
        }
        if options.json { print(BenchSupport.jsonLine(row)); return }
        printHostsTable(row, m, model, shaped: rate != nil, threads: threads)
    }

    func printHostsTable(_ row: [String: Any], _ m: HostsMeasurement, _ model: AllReduceModel, shaped: Bool, threads: Int) {
        let f = BenchSupport.format
        let shards = (row["shard_sizes"] as? [Int] ?? []).map(String.init).joined(separator: ",")
        print("Data-parallel step on \(model.ranks) test hosts (network namespaces of this machine on a bridge), 1 rank × \(threads) thread(s) each,")
        print("link \(link)\(shaped ? " (tc tbf on each host's egress)" : " (unshaped veth)"); g \(backbone), global batch \(batch) (shards \(shards)),"
              + " cached embeddings, median of \(options.repeats) steps\(deterministic ? ", deterministic mode" : ""). The hosts share this machine's cores.")
        print("models: measured compute + the gradient all-reduce over the link; ring: 2(N−1)/N × buffer per link, all links at once;")
        print("binomial: the buffer 2⌈log2 N⌉ times in turn (Open MPI's non-blocking in-place all-reduce, which the watchdog polls)")
        func line(_ name: String, _ cells: [String]) {
            print(name.padding(toLength: 24, withPad: " ", startingAt: 0) + cells.map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
        }
        func predicted(_ value: (Double) -> String) -> [String] { shaped ? [value(model.ringSeconds), value(model.binomialSeconds)] : ["—", "—"] }
        let c = m.compute
        line("", ["measured", "ring", "binomial"])
        line("gradient all-reduce s", [f(m.ownAllReduce, 3)] + predicted { f($0, 3) })
        line("step s", [f(m.step, 3)] + predicted { f(c + $0, 3) })
        line("images/s", [f(Double(batch) / m.step, 3)] + predicted { f(Double(batch) / (c + $0), 3) })
        line("all-reduce share", [f(100 * m.ownAllReduce / m.step, 1) + "%"] + predicted { f(100 * AllReduceModel.share(compute: c, allReduce: $0), 1) + "%" })
        print("all-reduce measured on the rank that reached it last (rank 0's, with its wait for the slowest rank: \(f(m.allReduce, 3)) s);"
              + " compute per step (the rest of the step): \(f(c, 3)) s")
        print("gradient buffer \(f(m.gradientMB, 1)) MB: a ring would have needed \(f(model.ringEquivalentBitsPerSecond(allReduceSeconds: m.ownAllReduce) / 1e9, 2)) Gbit/s"
              + " per link to take the measured time\(shaped ? " (link \(f(model.linkBitsPerSecond / 1e9, 1)) Gbit/s)" : "");"
              + " SyncBatchNorm collectives \(f(100 * (row["syncbn_share"] as? Double ?? 0), 1))% of the step")
    }
}

/// The numbers of a `dp_step` row the models need.
struct HostsMeasurement {
    let step: Double
    /// Rank 0's all-reduce time, including its wait for the slowest rank.
    let allReduce: Double
    /// The all-reduce on the rank that reached it last (the smallest share), which waits for no one.
    let ownAllReduce: Double
    let gradientMB: Double
    /// Everything but the all-reduce's own time: forward, backward, SyncBatchNorm, Adam, and
    /// waiting for the slowest rank.
    var compute: Double { max(0, step - ownAllReduce) }

    init(_ row: [String: Any]) {
        step = row["seconds"] as? Double ?? 0
        allReduce = row["allreduce_s"] as? Double ?? 0
        ownAllReduce = (row["allreduce_share_min"] as? Double ?? 0) * step
        gradientMB = row["allreduce_mb"] as? Double ?? 0
    }
}
