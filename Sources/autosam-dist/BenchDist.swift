import ArgumentParser
import Distributed
import Foundation
import Network
import Training

/// Images/s of the data-parallel training step at 1, 2, … ranks (ranks × threads = cores by
/// default), with the share of the step spent in the gradient all-reduce and in SyncBatchNorm's
/// collectives, beside PyTorch DistributedDataParallel (gloo, CPU) timed in the same run.
/// The command launches `mpirun` itself for each rank count; each launch runs this command
/// again with `--worker`.
struct BenchDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dist", abstract: "Images/s of the data-parallel step at 1 and 2 ranks, its collectives' share, beside PyTorch DDP; or on N shaped test hosts (--hosts, --link) beside a ring all-reduce model.")

    @OptionGroup var options: BenchOptions

    @Option(help: "LiteMedSAM checkpoint.")
    var checkpoint = "weights/lite_medsam.pth"

    @Option(help: "g's HarDNet backbone (hardnet85, hardnet68, hardnet39ds).")
    var backbone = "hardnet85"

    @Option(help: "Global batch (split over the ranks as training splits it).")
    var batch: Int = 10

    @Option(help: "Rank counts to measure, comma-separated.")
    var ranks = "1,2"

    @Option(help: "Convolution engine: onednn, reference or auto.")
    var convEngine: String?

    @Flag(help: "Skip the PyTorch reference even when torch is installed.")
    var noReference = false

    @Flag(help: "Also measure distributed.deterministic's step (reference engine, one thread per rank).")
    var deterministic = false

    @Option(help: "Measure on N test hosts instead: network namespaces of this machine, one rank each (root; Launch/testhosts.sh).")
    var hosts: Int?

    @Option(help: "The test hosts' links (with --hosts): 1gbit, 10gbit (shaped with tc tbf) or none (unshaped veth).")
    var link = "none"

    @Option(help: "Gradient buckets overlapped with backward: on, off or both (each measured).")
    var overlap = "on"

    @Option(help: "How gradient buckets travel: ring, mpi (Open MPI's all-reduce) or both.")
    var allreduce = "ring"

    @Option(help: "Gradients on the wire, comma-separated: none, bf16, fp16 (ring only).")
    var compression = "none"

    @Option(help: "Megabytes of gradients per bucket.")
    var bucketMb: Double = 25

    @Option(help: "Seconds one launch on the test hosts (--hosts) may take before it is stopped and run again once.")
    var launchTimeout: Double = 600

    @Flag(help: .hidden) var worker = false

    /// Every combination of the gradient settings asked for (compression only on the ring).
    var gradientVariants: [GradientReducer.Settings] {
        let overlaps = overlap == "both" ? [true, false] : [overlap == "on"]
        let transports: [GradientTransport] = allreduce == "both" ? [.ring, .mpi] : GradientTransport(rawValue: allreduce).map { [$0] } ?? []
        let wires = compression.split(separator: ",").compactMap { GradientCompression(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        var out: [GradientReducer.Settings] = []
        for o in overlaps { for t in transports { for w in wires where t == .ring || w == .none {
            out.append(.init(overlap: o, bucketBytes: Int(bucketMb * 1_048_576), transport: t, compression: w))
        } } }
        return out
    }

    var rankCounts: [Int] { ranks.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw ValidationError("\(checkpoint): checkpoint not found (Launch/fetch-weights.sh fetches the default)")
        }
        if GeneratorBackbone.named(backbone) == nil { throw ValidationError("unknown backbone \(backbone)") }
        if !["on", "off", "both"].contains(overlap) { throw ValidationError("--overlap: on, off or both, not \(overlap)") }
        if allreduce != "both" && GradientTransport(rawValue: allreduce) == nil { throw ValidationError("--allreduce: ring, mpi or both, not \(allreduce)") }
        for w in compression.split(separator: ",") where GradientCompression(rawValue: w.trimmingCharacters(in: .whitespaces)) == nil {
            throw ValidationError("--compression: none, bf16 or fp16 (comma-separated), not \(w)")
        }
        if !(bucketMb > 0) { throw ValidationError("--bucket-mb must be positive") }
        if gradientVariants.isEmpty { throw ValidationError("--allreduce mpi sends float32 only: add none to --compression") }
        let counts = rankCounts
        if counts.isEmpty || counts.count != ranks.split(separator: ",").count || counts.contains(where: { $0 < 1 }) {
            throw ValidationError("--ranks: expected positive integers separated by commas, got \(ranks)")
        }
        if let h = hosts {
            if h < 1 || h > batch { throw ValidationError("--hosts must be 1 to the global batch \(batch), got \(h)") }
            if link != "none" && AllReduceModel.bitsPerSecond(link) == nil { throw ValidationError("--link: 1gbit, 10gbit or none, not \(link)") }
            if getuid() != 0 { throw ValidationError("--hosts makes network namespaces: run as root") }
        }
        if let big = counts.first(where: { $0 > batch }), hosts == nil {
            throw ValidationError("--ranks \(big) is more than the global batch \(batch): every rank needs a sample")
        }
    }

    func run() throws {
        if worker { return try runWorker() }
        if let hosts { return try runOnTestHosts(hosts) }
        let cores = ThreadPolicy.onlineCores
        var rows: [[String: Any]] = []
        let python = noReference ? nil : BenchSupport.torchPython()
        let script = BenchSupport.referenceScript("bench_ddp.py")
        for n in rankCounts {
            let threads = options.threads ?? max(1, cores / n)
            for v in gradientVariants {
                FileHandle.standardError.write(Data("bench dist: \(n) rank(s) × \(threads) thread(s), \(Self.describe(v))…\n".utf8))
                rows += try launch(ranks: n, threads: threads, cores: cores, deterministic: false, gradients: v)
            }
            if deterministic {
                FileHandle.standardError.write(Data("bench dist: \(n) rank(s) × 1 thread, deterministic…\n".utf8))
                rows += try launch(ranks: n, threads: 1, cores: cores, deterministic: true, gradients: gradientVariants[0])
            }
            if let python, let script {
                FileHandle.standardError.write(Data("bench dist: PyTorch DDP, \(n) process(es) × \(threads) thread(s)…\n".utf8))
                rows += BenchSupport.runReference(python, script: script, args: [
                    "--checkpoint", checkpoint, "--backbone", backbone, "--batch", "\(batch)", "--world-size", "\(n)",
                    "--threads", "\(threads)", "--repeats", "\(options.repeats)"] + (threads == 1 ? ["--bind"] : []))
            }
        }
        if options.json {
            for r in rows { print(BenchSupport.jsonLine(r)) }
            return
        }
        printTable(rows, cores: cores)
    }

    /// One rank of a launch: measure, and rank 0 prints the row.
    func runWorker() throws {
        let comm = try MPICommunicator.shared()
        defer { MPICommunicator.finalize() }
        do {
            let context = try ThreadPolicy.context(explicit: deterministic ? 1 : options.threads,
                                                   engine: deterministic ? "reference" : convEngine)
            let sam = try SAM.load(.liteMedSAM, checkpoint: checkpoint, context: context)
            let row = try DataParallelStepBenchmark.measure(
                sam: sam, comm: comm, .init(backbone: backbone, batch: batch, repeats: options.repeats,
                                            threads: context.threads ?? ThreadPolicy.resolve(explicit: options.threads),
                                            deterministic: deterministic, gradients: gradientVariants[0]))
            if let row { print(BenchSupport.jsonLine(row)) }
        } catch {
            FileHandle.standardError.write(Data("autosam-dist bench dist (rank \(comm.rank) of \(comm.size)): error: \(error)\n".utf8))
            if comm.size > 1 { comm.abort(code: 1) }
            throw ExitCode(1)
        }
    }

    /// `mpirun -n ranks` of this binary in worker mode; its rows.
    func launch(ranks n: Int, threads: Int, cores: Int, deterministic: Bool, gradients: GradientReducer.Settings) throws -> [[String: Any]] {
        guard let mpirun = BenchSupport.executable("mpirun") else { throw ValidationError("mpirun not found on PATH (Launch/setup.sh installs Open MPI)") }
        var args = ["-n", "\(n)", "--bind-to", threads == 1 ? "core" : "none"]
        if n * threads > cores || n > cores { args.append("--oversubscribe") }
        args += workerCommand(threads: threads, deterministic: deterministic, gradients: gradients)
        var env = ProcessInfo.processInfo.environment
        if getuid() == 0 { env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" }
        let (status, out) = try BenchSupport.capture(mpirun, args, environment: env)
        let rows = BenchSupport.jsonRows(out)
        guard status == 0, !rows.isEmpty else {
            throw ValidationError("mpirun -n \(n) bench dist --worker failed (exit \(status)); its messages are above")
        }
        return rows
    }

    /// This binary in worker mode, as each rank of a launch runs it.
    func workerCommand(threads: Int, deterministic: Bool, gradients: GradientReducer.Settings) -> [String] {
        var args = [BenchSupport.selfExecutable, "bench", "dist", "--worker", "--checkpoint", checkpoint, "--backbone", backbone,
                    "--batch", "\(batch)", "--repeats", "\(options.repeats)", "--threads", "\(threads)",
                    "--overlap", gradients.overlap ? "on" : "off", "--allreduce", gradients.transport.rawValue,
                    "--compression", gradients.compression.rawValue, "--bucket-mb", "\(Double(gradients.bucketBytes) / 1_048_576)"]
        if let convEngine { args += ["--conv-engine", convEngine] }
        if deterministic { args.append("--deterministic") }
        return args
    }

    func printTable(_ rows: [[String: Any]], cores: Int) {
        let f = BenchSupport.format
        func find(_ name: String, _ n: Int) -> [String: Any]? {
            rows.first { ($0["name"] as? String) == name && ($0["ranks"] as? Int) == n }
        }
        let variants = gradientVariants
        func ips(_ r: [String: Any]?) -> Double? { r?["images_per_s"] as? Double }
        print("Data-parallel training step: g \(backbone), global batch \(batch), cached embeddings, \(cores) cores; median of \(options.repeats) steps")
        print("ours: SyncBatchNorm over the ranks, gradient buckets (\(Self.describe(variants[0]))). PyTorch DDP (gloo): bucketed all-reduce overlapped")
        print("with backward; 'SyncBN' = BatchNorm statistics all-reduced (as ours), 'local BN' = each rank's own (PyTorch's CPU default).")
        print("ranks×threads  shards      ours img/s  grad all-reduce  SyncBN coll.   DDP SyncBN img/s (exposed all-reduce)  DDP local BN img/s   ratio vs SyncBN / local BN")
        for n in rankCounts {
            guard let r = find("dp_step", n) else { continue }
            let shards = (r["shard_sizes"] as? [Int] ?? []).map(String.init).joined(separator: ",")
            var line = "\(n)×\(r["threads"] as? Int ?? 0)".padding(toLength: 15, withPad: " ", startingAt: 0)
                + shards.padding(toLength: 12, withPad: " ", startingAt: 0)
                + f(ips(r) ?? 0, 3).padding(toLength: 12, withPad: " ", startingAt: 0)
                + "\(f(100 * (r["allreduce_share"] as? Double ?? 0), 1))% \(f(r["allreduce_mb"] as? Double ?? 0, 1)) MB".padding(toLength: 17, withPad: " ", startingAt: 0)
                + "\(f(100 * (r["syncbn_share"] as? Double ?? 0), 1))%".padding(toLength: 15, withPad: " ", startingAt: 0)
            let s = find("ddp_syncbn", n), l = find("ddp_localbn", n)
            if let a = ips(s) {
                line += "\(f(a, 3)) (\(f(100 * (s?["allreduce_share"] as? Double ?? 0), 1))%)".padding(toLength: 39, withPad: " ", startingAt: 0)
            }
            if let b = ips(l) { line += f(b, 3).padding(toLength: 21, withPad: " ", startingAt: 0) }
            if let a = ips(s), let b = ips(l) { line += "\(f(ips(r)! / a, 2))x / \(f(ips(r)! / b, 2))x" }
            print(line)
        }
        if variants.count > 1 {
            print("gradient settings (exposed all-reduce: what the step waited for after backward):")
            for n in rankCounts where n > 1 {
                for v in variants {
                    guard let r = rows.first(where: { ($0["name"] as? String) == "dp_step" && ($0["ranks"] as? Int) == n && Self.matches($0, v) }) else { continue }
                    print("  \(n) ranks, \(Self.describe(v)):".padding(toLength: 58, withPad: " ", startingAt: 0)
                          + "\(f(ips(r) ?? 0, 3)) img/s, all-reduce \(f(100 * (r["allreduce_share"] as? Double ?? 0), 1))% of \(f(r["allreduce_mb"] as? Double ?? 0, 1)) MB")
                }
            }
        }
        if deterministic {
            print("distributed.deterministic (reference engine, 1 thread per rank; exact int64 gradient sum, sums in sample order):")
            print("ranks  ours img/s  vs default  exact gradient sum (MB on the wire)  SyncBN coll.")
            for n in rankCounts {
                guard let r = find("dp_step_deterministic", n) else { continue }
                var line = "\(n)".padding(toLength: 7, withPad: " ", startingAt: 0) + f(ips(r) ?? 0, 3).padding(toLength: 12, withPad: " ", startingAt: 0)
                line += (ips(find("dp_step", n)).map { f(ips(r)! / $0, 2) + "x" } ?? "").padding(toLength: 12, withPad: " ", startingAt: 0)
                line += "\(f(100 * (r["allreduce_share"] as? Double ?? 0), 1))% (\(f(r["allreduce_mb"] as? Double ?? 0, 1)) MB)".padding(toLength: 37, withPad: " ", startingAt: 0)
                line += "\(f(100 * (r["syncbn_share"] as? Double ?? 0), 1))% (\(f(r["syncbn_kb"] as? Double ?? 0, 0)) kB)"
                print(line)
            }
        }
        let counts = rankCounts
        if counts.count > 1, let lo = counts.min(), let hi = counts.max(), let a = ips(find("dp_step", lo)), let b = ips(find("dp_step", hi)) {
            var line = "scaling \(lo) → \(hi) ranks: ours \(f(b / a, 2))x"
            if let c = ips(find("ddp_syncbn", lo)), let d = ips(find("ddp_syncbn", hi)) { line += ", DDP SyncBN \(f(d / c, 2))x" }
            if let c = ips(find("ddp_localbn", lo)), let d = ips(find("ddp_localbn", hi)) { line += ", DDP local BN \(f(d / c, 2))x" }
            print(line)
        }
    }

    static func describe(_ v: GradientReducer.Settings) -> String {
        "\(v.transport.rawValue) all-reduce, overlap \(v.overlap ? "on" : "off"), compression \(v.compression.rawValue), \(BenchSupport.format(Double(v.bucketBytes) / 1_048_576, 0)) MB buckets"
    }

    /// Whether a worker's row was measured with these gradient settings.
    static func matches(_ row: [String: Any], _ v: GradientReducer.Settings) -> Bool {
        (row["overlap"] as? Bool) == v.overlap && (row["allreduce"] as? String) == v.transport.rawValue
            && (row["compression"] as? String) == v.compression.rawValue
    }
}
