import ArgumentParser
import Distributed
import Foundation

/// `bench dist --hosts N --link L`: the data-parallel step with one rank on each of N test
/// hosts whose links are shaped to L, beside what the all-reduce models predict for the
/// compute this run measured (`AllReduceModel`: a ring, and the binomial tree Open MPI runs),
/// for each gradient setting asked for (transport, overlap, compression).
extension BenchDist {
    func runOnTestHosts(_ n: Int) throws {
        guard let mpirun = BenchSupport.executable("mpirun") else { throw ValidationError("mpirun not found on PATH (Launch/setup.sh installs Open MPI)") }
        let threads = deterministic ? 1 : options.threads ?? max(1, ThreadPolicy.onlineCores / n)
        // Shaped links: first what the hosts move unshaped (their TCP stacks on this machine's
        // cores), measured with the ring, so the model knows which of the two is narrower.
        let calibrate = AllReduceModel.bitsPerSecond(link) != nil && !deterministic
        let hosts = try TestHostSet.up(count: n, link: calibrate ? "none" : link)
        defer { hosts.down() }
        FileHandle.standardError.write(Data("bench dist: \(n) test host(s) on \(hosts.subnet), link \(link), 1 rank × \(threads) thread(s) each…\n".utf8))
        var env = ProcessInfo.processInfo.environment
        env["OMPI_MCA_plm"] = nil   // the hostfile and the agent place the ranks
        if getuid() == 0 { env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" }
        var me = self
        me.checkpoint = URL(fileURLWithPath: checkpoint).standardizedFileURL.path   // ranks may start elsewhere
        func measure(_ v: GradientReducer.Settings) throws -> [String: Any] {
            let args = ["-n", "\(n)"] + hosts.mpirunFlags + me.workerCommand(threads: threads, deterministic: deterministic, gradients: v)
            // A guard: a daemon that never starts leaves mpirun waiting forever, so a launch that
            // outlives the timeout is stopped and run once more.
            var attempt = try BenchSupport.captureTimed(mpirun, args, environment: env, timeout: launchTimeout)
            if attempt.timedOut {
                FileHandle.standardError.write(Data("bench dist: the launch did not finish within \(Int(launchTimeout)) s; running it again…\n".utf8))
                attempt = try BenchSupport.captureTimed(mpirun, args, environment: env, timeout: launchTimeout)
            }
            let (status, out) = (attempt.0, attempt.1)
            guard status == 0, let row = BenchSupport.jsonRows(out).first else {
                throw ValidationError("mpirun on \(n) test hosts failed (exit \(status)); its messages are above")
            }
            return row
        }
        var hostRate = Double.infinity
        if calibrate {
            var v = gradientVariants[0]
            v.transport = .ring; v.overlap = false; v.compression = .none
            FileHandle.standardError.write(Data("bench dist: unshaped links first (ring, overlap off), for the hosts' own rate…\n".utf8))
            let m = HostsMeasurement(try measure(v))
            hostRate = AllReduceModel(ranks: n, gradientBytes: m.gradientMB * 1e6, linkBitsPerSecond: .infinity)
                .hostBitsPerSecond(unshapedRingSeconds: m.ownAllReduce)
            try hosts.shape(link)
        }
        var rows: [[String: Any]] = []
        for v in deterministic ? [gradientVariants[0]] : gradientVariants {
            FileHandle.standardError.write(Data("bench dist: \(deterministic ? "deterministic mode" : Self.describe(v))…\n".utf8))
            rows.append(withModels(try measure(v), hosts: n, hostBitsPerSecond: hostRate))
        }
        if options.json { for r in rows { print(BenchSupport.jsonLine(r)) }; return }
        printHostsTable(rows, hosts: n, threads: threads)
    }

    /// A measured row with what the models predict for its compute, bytes and transport.
    func withModels(_ measured: [String: Any], hosts n: Int, hostBitsPerSecond: Double) -> [String: Any] {
        var row = measured
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
            // The model of the transport this row ran, at the narrower of the link and the hosts'
            // own rate (without overlap: the whole exchange after backward).
            let hosts = AllReduceModel(ranks: n, gradientBytes: m.gradientMB * 1e6, linkBitsPerSecond: rate!, hostBitsPerSecond: hostBitsPerSecond)
            if hostBitsPerSecond.isFinite { row["host_gbit"] = hostBitsPerSecond / 1e9 }
            row["model_transport_allreduce_s"] = (row["allreduce"] as? String) == "mpi" ? hosts.binomialSeconds : hosts.ringSeconds
        }
        return row
    }

    func printHostsTable(_ rows: [[String: Any]], hosts n: Int, threads: Int) {
        let f = BenchSupport.format
        guard let first = rows.first else { return }
        let shaped = first["model_transport_allreduce_s"] != nil
        let shards = (first["shard_sizes"] as? [Int] ?? []).map(String.init).joined(separator: ",")
        print("Data-parallel step on \(n) test hosts (network namespaces of this machine on a bridge), 1 rank × \(threads) thread(s) each,")
        print("link \(link)\(shaped ? " (tc tbf on each host's egress)" : " (unshaped veth)"); g \(backbone), global batch \(batch) (shards \(shards)),"
              + " cached embeddings, median of \(options.repeats) steps\(deterministic ? ", deterministic mode" : ""). The hosts share this machine's cores.")
        print("all-reduce: what the step waited for after backward, on the rank that reached it last (with overlap, the part backward did not hide).")
        print("model: measured compute + the transport's all-reduce over the link (ring: 2(N−1)/N × buffer per link, all links at once;")
        print("mpi: Open MPI's binomial reduce + broadcast, the buffer 2⌈log2 N⌉ times in turn), no overlap, at the narrower of the link")
        print("and the hosts' own rate, measured first on unshaped links: " + ((first["host_gbit"] as? Double).map { f($0, 2) + " Gbit/s" } ?? "not measured") + ".")
        func line(_ cells: [String]) {
            print(cells[0].padding(toLength: 44, withPad: " ", startingAt: 0) + cells.dropFirst().map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
        }
        line(["gradients", "MB", "all-reduce", "model", "step s", "model", "images/s", "share", "model"])
        for r in rows {
            let m = HostsMeasurement(r), model = r["model_transport_allreduce_s"] as? Double
            let name = deterministic ? "deterministic (exact int64 sum)"
                : "\(r["allreduce"] as? String ?? "?"), overlap \((r["overlap"] as? Bool ?? false) ? "on" : "off"), \(r["compression"] as? String ?? "none")"
            line([name, f(m.gradientMB, 1), f(m.ownAllReduce, 3), model.map { f($0, 3) } ?? "—", f(m.step, 3),
                  model.map { f(m.compute + $0, 3) } ?? "—", f(Double(batch) / m.step, 3), f(100 * m.ownAllReduce / m.step, 1) + "%",
                  model.map { f(100 * AllReduceModel.share(compute: m.compute, allReduce: $0), 1) + "%" } ?? "—"])
        }
        print("compute per step (the step less its exposed all-reduce): \(f(HostsMeasurement(first).compute, 3)) s; SyncBatchNorm collectives"
              + " \(f(100 * (first["syncbn_share"] as? Double ?? 0), 1))% of the step")
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
