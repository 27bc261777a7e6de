import ArgumentParser
import Distributed
import Foundation

/// `bench dist --hosts N --link L`: the data-parallel step with one rank on each of N test
/// hosts whose links are shaped to L, beside what a ring all-reduce over that link predicts
/// (`RingAllReduceModel`) for the compute this run measured.
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
        let absolute = URL(fileURLWithPath: checkpoint).standardizedFileURL.path
        var me = self
        me.checkpoint = absolute
        let (status, out) = try BenchSupport.capture(mpirun, ["-n", "\(n)"] + hosts.mpirunFlags
                                                        + me.workerCommand(threads: threads, deterministic: deterministic), environment: env)
        guard status == 0, var row = BenchSupport.jsonRows(out).first else {
            throw ValidationError("mpirun on \(n) test hosts failed (exit \(status)); its messages are above")
        }
        row["hosts"] = n
        row["link"] = link
        let measured = HostsMeasurement(row)
        let model = RingAllReduceModel(ranks: n, gradientBytes: measured.gradientMB * 1e6,
                                       linkBitsPerSecond: RingAllReduceModel.bitsPerSecond(link) ?? .infinity)
        row["compute_s"] = measured.compute
        row["link_gbit_achieved"] = model.achievedBitsPerSecond(allReduceSeconds: measured.allReduce) / 1e9
        if RingAllReduceModel.bitsPerSecond(link) != nil {
            row["model_allreduce_s"] = model.allReduceSeconds
            row["model_step_s"] = model.stepSeconds(compute: measured.compute)
            row["model_images_per_s"] = Double(batch) / model.stepSeconds(compute: measured.compute)
            row["model_allreduce_share"] = model.allReduceShare(compute: measured.compute)
        }
        if options.json { print(BenchSupport.jsonLine(row)); return }
        printHostsTable(row, measured: measured, model: model, threads: threads)
    }

    func printHostsTable(_ row: [String: Any], measured m: HostsMeasurement, model: RingAllReduceModel, threads: Int) {
        let f = BenchSupport.format
        let shaped = RingAllReduceModel.bitsPerSecond(link) != nil
        let shards = (row["shard_sizes"] as? [Int] ?? []).map(String.init).joined(separator: ",")
        print("Data-parallel step on \(model.ranks) test hosts (network namespaces of this machine on a bridge), 1 rank × \(threads) thread(s) each,")
        print("link \(link)\(shaped ? " (tc tbf on each host's egress)" : " (unshaped veth)"); g \(backbone), global batch \(batch) (shards \(shards)),"
              + " cached embeddings, median of \(options.repeats) steps\(deterministic ? ", deterministic mode" : ""). The hosts share this machine's cores.")
        print("                         measured    ring model (compute as measured + 2(N−1)/N × buffer ÷ link rate)")
        func line(_ name: String, _ a: String, _ b: String) { print(name.padding(toLength: 25, withPad: " ", startingAt: 0) + a.padding(toLength: 12, withPad: " ", startingAt: 0) + b) }
        let c = m.compute
        line("gradient all-reduce s", f(m.allReduce, 3), shaped ? f(model.allReduceSeconds, 3) : "—")
        line("step s", f(m.step, 3), shaped ? f(model.stepSeconds(compute: c), 3) : "—")
        line("images/s", f(Double(batch) / m.step, 3), shaped ? f(Double(batch) / model.stepSeconds(compute: c), 3) : "—")
        line("all-reduce share", f(100 * m.allReduce / m.step, 1) + "%", shaped ? f(100 * model.allReduceShare(compute: c), 1) + "%" : "—")
        print("compute per step (step − all-reduce): \(f(c, 3)) s; gradient buffer \(f(m.gradientMB, 1)) MB, each rank sends and receives "
              + "\(f(model.bytesPerRank / 1e6, 1)) MB per all-reduce: \(f(model.achievedBitsPerSecond(allReduceSeconds: m.allReduce) / 1e9, 2)) Gbit/s reached per link"
              + (shaped ? " (link \(f(model.linkBitsPerSecond / 1e9, 1)) Gbit/s)" : ""))
        print("SyncBatchNorm collectives: \(f(100 * (row["syncbn_share"] as? Double ?? 0), 1))% of the step")
    }
}

/// The numbers of a `dp_step` row the scaling model needs.
struct HostsMeasurement {
    let step: Double
    let allReduce: Double
    let gradientMB: Double
    /// Everything but the gradient all-reduce: forward, backward, SyncBatchNorm, Adam.
    var compute: Double { max(0, step - allReduce) }

    init(_ row: [String: Any]) {
        step = row["seconds"] as? Double ?? 0
        allReduce = row["allreduce_s"] as? Double ?? 0
        gradientMB = row["allreduce_mb"] as? Double ?? 0
    }
}
