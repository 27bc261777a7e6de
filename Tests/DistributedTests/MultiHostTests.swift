import Datasets
import Foundation
import TestSupport
import XCTest

/// Jobs over several hosts as Launch/multihost.sh runs them, on test hosts that are network
/// namespaces of this machine (Launch/testhosts.sh): each test makes its own and removes them
/// however it ends. Tiny synthetic data, HarDNet-39DS g, a few steps; every check compares
/// against a reference, an uninterrupted run, where the ranks ran, or a deadline.
final class MultiHostTests: XCTestCase {
    static let root = FileManager.default.temporaryDirectory.appendingPathComponent("mh-\(UUID().uuidString)").path
    var bin: URL!
    var weights: String!

    override class func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    override func setUpWithError() throws {
        try TestHosts.requireNetns()
        bin = try ProgramRunner.requireBinary()
        guard ProgramRunner.mpirun != nil else { throw XCTSkip("mpirun not installed") }
        weights = try TestPaths.requireLiteMedSAM()
    }

    /// 8 synthetic training pairs at 96², shared by the tests (as is the embedding cache).
    func data() throws -> String {
        let d = "\(Self.root)/data"
        if !FileManager.default.fileExists(atPath: d + "/TrainDataset") {
            _ = try DemoDataGenerator(size: 96, seed: 5).write(to: d, train: 8, test: 1)
        }
        return d + "/TrainDataset"
    }

    /// A run over the 8 pairs with a checkpoint after every step (batch 2: 4 steps an epoch).
    func config(_ name: String, epochs: Int, batch: Int = 2, distributed: String) throws -> String {
        let text = """
        model: {sam: lite_medsam, checkpoint: \(weights!)}
        generator: {backbone: hardnet39ds}
        data: {train: \(try data()), validation_fraction: 0}
        augment: {enabled: true, variants: 1}
        train: {epochs: \(epochs), batch_size: \(batch), lr: 0.001}
        output: {dir: \(Self.root)/\(name), cache: \(Self.root)/cache, checkpoint_every_steps: 1}
        distributed: {\(distributed)}
        """
        let path = "\(Self.root)/\(name).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `command` on `hosts` to the end; its status, output and where each rank ran.
    func run(_ hosts: TestHosts, ranks: Int, _ command: [String], timeout: TimeInterval = 240)
        throws -> (status: Int32?, out: String, err: String, placement: [Int: Int]) {
        let job = try hosts.launch(binary: bin, ranks: ranks, command)
        defer { job.stop() }
        var placement: [Int: Int] = [:]
        let status = job.finish(within: timeout) { for (r, p) in hosts.ranks() { placement[r] = p.host } }
        return (status, job.stdout, job.stderr, placement)
    }

    /// Waits for the job's first step checkpoint in `dir`; fails the test, with what runs where
    /// and the job's output, when it does not come.
    func reachedFirstStep(_ job: LauncherJob, _ dir: String, on hosts: TestHosts, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        if job.wait(upTo: 180, until: { FileManager.default.fileExists(atPath: dir + "/step-00000001.ckpt") }) { return true }
        XCTFail("no step-1 checkpoint in \(dir) within 180 s\nprocesses:\n\(hosts.processes())\nstdout:\n\(job.stdout)\nstderr:\n\(job.stderr)",
                file: file, line: line)
        return false
    }

    /// Every checkpoint left in `dir` loads (`inspect`).
    func assertCheckpointsLoad(_ dir: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".ckpt") }
        XCTAssertFalse(files.isEmpty, "checkpoints in \(dir)", file: file, line: line)
        for f in files {
            let r = try ProgramRunner.run(bin.path, ["inspect", dir + "/" + f])
            XCTAssertEqual(r.status, 0, "\(f) does not load: \(r.stderr)", file: file, line: line)
        }
    }

    /// `verify` across hosts, 1e-5 on everything: 2 hosts of 1 rank (batch 2, shards 1,1), then
    /// 3 hosts of 1, 1 and 2 ranks (batch 4, shards 1,1,1,1). The deterministic mode makes the
    /// step exact; the default mode runs on the 2 hosts and reports its differences, and trains
    /// 3 steps with gradient buckets overlapped with backward and not: the same bits.
    func testVerifyAcrossTwoAndThreeHosts() throws {
        let strict = ["--tolerance", "1e-5", "--gradient-tolerance", "1e-5"]
        for (slots, expected) in [([1, 1], [0: 0, 1: 1]), ([1, 1, 2], [0: 0, 1: 1, 2: 2, 3: 2])] {
            let hosts = try TestHosts(slots.count, slots: slots)
            defer { hosts.down() }
            let ranks = slots.reduce(0, +)
            let det = try config("verify-det\(ranks)", epochs: 1, batch: ranks, distributed: "deterministic: true, timeout_s: 60")
            let r = try run(hosts, ranks: ranks, ["verify", "--config", det, "--steps", "1"] + strict)
            XCTAssertEqual(r.status, 0, "\(slots):\n\(r.out)\n\(r.err)")
            let shards = Array(repeating: "1", count: ranks).joined(separator: ",")
            XCTAssertTrue(r.out.contains("shards \(shards))") && r.out.contains("on \(ranks) rank(s)") && r.out.contains("gradients 0.00e+00")
                          && r.out.contains("PASSED"), r.out)
            XCTAssertEqual(r.placement, expected, "rank → test host")
            if slots.count == 2 {
                let def = try config("verify-default", epochs: 1, distributed: "timeout_s: 60")
                let d = try run(hosts, ranks: ranks, ["verify", "--config", def, "--steps", "1"])
                XCTAssertEqual(d.status, 0, "default mode:\n\(d.out)\n\(d.err)")
                let summary = d.out.split(separator: "\n").first { $0.hasPrefix("verify:") }.map(String.init) ?? ""
                XCTAssertTrue(summary.contains("gradients ") && summary.contains("PASSED"), d.out)
                XCTAssertEqual(d.placement, expected, "rank → test host (default mode)")
                print("default mode on 2 hosts: \(summary)")
                // Gradient buckets over TCP started during backward or after it: the same bits.
                for overlap in [true, false] {
                    let c = try config("hosts-overlap-\(overlap)", epochs: 1, distributed: "overlap: \(overlap), bucket_mb: 2, timeout_s: 60")
                    let t = try run(hosts, ranks: ranks, ["train", "--config", c, "--max-steps", "3"])
                    XCTAssertEqual(t.status, 0, "overlap \(overlap):\n\(t.out)\n\(t.err)")
                }
                let cmp = try ProgramRunner.run(bin.path, ["inspect", "\(Self.root)/hosts-overlap-true/step-00000003.ckpt", "--compare",
                                                           "\(Self.root)/hosts-overlap-false/step-00000003.ckpt", "--tolerance", "0"])
                XCTAssertEqual(cmp.status, 0, "overlap on vs off across 2 hosts\n" + cmp.stdout.split(separator: "\n").suffix(3).joined(separator: "\n"))
            }
        }
    }

    /// A host cut off mid-training (its link down) while the collective timeout is a minute: the
    /// daemons' TCP keepalive notices the lost host and the job ends, naming it, well before.
    func testCutOffHostEndsTheJobNamingIt() throws {
        let dir = "\(Self.root)/cut"
        let timeout = 60.0
        let cfg = try config("cut", epochs: 50, distributed: "timeout_s: \(Int(timeout))")
        let hosts = try TestHosts(2)
        defer { hosts.down() }
        let job = try hosts.launch(binary: bin, ranks: 2, ["train", "--config", cfg])
        defer { job.stop() }
        guard reachedFirstStep(job, dir, on: hosts) else { return }
        XCTAssertEqual(hosts.ranks().mapValues(\.host), [0: 0, 1: 1], "rank → test host")
        try hosts.cut(1)
        let cut = Date()
        let status = job.finish(within: timeout + 30)
        let took = Date().timeIntervalSince(cut)
        XCTAssertNotNil(status, "the job ended within the timeout + 30 s")
        XCTAssertNotEqual(status, 0)
        // Keepalive: 10 s idle, then 3 probes 3 s apart; measured 11 s from the cut.
        XCTAssertLessThan(took, 35, "the lost host was noticed before the collective timeout")
        let err = job.stderr
        XCTAssertTrue(err.contains(hosts.hosts[1].address) || err.contains("rank(s) 1 ("), "names the host or rank:\n\(err)")
        XCTAssertTrue(err.contains("multihost: the job failed 1 time(s)"), err)
        print("cut-off host: job ended \(String(format: "%.1f", took)) s after the cut")
        try assertCheckpointsLoad(dir)
    }

    /// The same cut under --max-restarts 1: the launcher finds the host silent, drops it, and
    /// the run continues on the rank left from its newest checkpoint to --max-steps.
    func testCutOffHostIsDroppedAndTheRunContinues() throws {
        let dir = "\(Self.root)/dropped"
        let cfg = try config("dropped", epochs: 50, distributed: "timeout_s: 60")
        let hosts = try TestHosts(2)
        defer { hosts.down() }
        let job = try hosts.launch(binary: bin, ranks: 2, restarts: 1, ["train", "--config", cfg, "--max-steps", "3"])
        defer { job.stop() }
        guard reachedFirstStep(job, dir, on: hosts) else { return }
        let saved = CheckpointFiles.newestStep(dir)
        XCTAssertLessThan(saved, 3, "cut before the last step")
        try hosts.cut(1)
        let status = job.finish(within: 120)
        let err = job.stderr, out = job.stdout
        XCTAssertEqual(status, 0, "continued on the host left:\n\(err)")
        let (lost, kept) = (hosts.hosts[1].address, hosts.hosts[0].address)
        XCTAssertTrue(err.contains("multihost: dropping \(lost): it does not answer"), err)
        XCTAssertTrue(err.contains("multihost: attempt 2 of 2: 1 rank(s) on \(kept)\n"), err)
        let restart = err.split(separator: "\n").first { $0.hasPrefix("multihost: restart 1 of 1") }.map(String.init) ?? ""
        XCTAssertTrue(restart.contains(lost), "the cause names the lost host: \(restart)")
        let resumed = out.split(separator: "\n").first { $0.hasPrefix("resumed from") }
        XCTAssertGreaterThanOrEqual(resumed.flatMap(CheckpointFiles.step) ?? -1, saved, out)
        XCTAssertTrue(resumed?.contains("written by 2 rank(s), now 1") == true, out)
        XCTAssertEqual(CheckpointFiles.newestStep(dir), 3)
        try assertCheckpointsLoad(dir)
        print("dropped host: \(restart)")
    }

    /// A host that takes the daemon's launch and never runs it: mpirun alone would wait forever;
    /// the launcher stops the attempt after --launch-timeout, names the host, drops it under
    /// --max-restarts 1 and runs on the host left.
    func testHangingDaemonLaunchIsStoppedAndTheHostDropped() throws {
        let dir = "\(Self.root)/hung"
        let cfg = try config("hung", epochs: 1, distributed: "timeout_s: 60")
        let hosts = try TestHosts(2)
        defer { hosts.down() }
        let job = try hosts.launch(binary: bin, ranks: 2, restarts: 1, launchTimeout: 10, agent: try hosts.hangingAgent(host: 1),
                                   ["train", "--config", cfg, "--max-steps", "1"])
        defer { job.stop() }
        let status = job.finish(within: 150)
        let err = job.stderr, hung = hosts.hosts[1].address
        XCTAssertEqual(status, 0, "ran on the host left:\n\(err)\n\(hosts.processes())")
        XCTAssertTrue(err.contains("multihost: the MPI daemons did not all start within 10 s (not answering: \(hung) )"), err)
        XCTAssertTrue(err.contains("multihost: dropping \(hung): it does not answer"), err)
        XCTAssertTrue(err.contains("multihost: attempt 2 of 2: 1 rank(s) on \(hosts.hosts[0].address)\n"), err)
        XCTAssertEqual(CheckpointFiles.newestStep(dir), 1)
    }

    /// A rank SIGSTOPped on a host that stays reachable: mpirun sees nothing wrong, the
    /// collective watchdog ends the job within distributed.timeout_s + 30 s, naming the rank.
    func testStoppedRankOnAReachableHostIsNamed() throws {
        let dir = "\(Self.root)/stopped"
        let cfg = try config("stopped", epochs: 50, distributed: "timeout_s: 5")
        let hosts = try TestHosts(2)
        defer { hosts.down() }
        let job = try hosts.launch(binary: bin, ranks: 2, ["train", "--config", cfg])
        defer { job.stop() }
        guard reachedFirstStep(job, dir, on: hosts) else { return }
        let ranks = hosts.ranks()
        guard let victim = ranks[1], victim.host == 1 else { return XCTFail("rank 1 not found on host 1: \(ranks)") }
        kill(victim.pid, SIGSTOP)
        let stopped = Date()
        let status = job.finish(within: 5 + 30)
        XCTAssertNotNil(status, "the job ended within the timeout + 30 s")
        XCTAssertNotEqual(status, 0)
        print("stopped rank: job ended \(String(format: "%.1f", Date().timeIntervalSince(stopped))) s after SIGSTOP")
        let err = job.stderr
        XCTAssertTrue(err.contains("(rank 0 of 2): error:") && err.contains("rank(s) 1 (") && err.contains("stopped answering"), err)
        try assertCheckpointsLoad(dir)
    }

    /// A rank SIGKILLed mid-run under --max-restarts 1: the launcher logs the restart and its
    /// cause, reruns with --resume auto from the newest checkpoint, and the result is bitwise
    /// an uninterrupted run's (deterministic mode: the same bits on any rank count, so the
    /// reference is one process).
    func testKilledRankRestartsAndEndsWithTheUninterruptedBits() throws {
        let mode = "deterministic: true, timeout_s: 60"
        let reference = try config("straight", epochs: 1, distributed: mode)
        let straight = try ProgramRunner.run(bin.path, ["train", "--config", reference, "--max-steps", "3"], timeout: 300)
        XCTAssertEqual(straight.status, 0, straight.stderr)
        let dir = "\(Self.root)/restarted"
        let cfg = try config("restarted", epochs: 1, distributed: mode)
        let hosts = try TestHosts(2)
        defer { hosts.down() }
        let job = try hosts.launch(binary: bin, ranks: 2, restarts: 1, ["train", "--config", cfg, "--max-steps", "3"])
        defer { job.stop() }
        guard reachedFirstStep(job, dir, on: hosts) else { return }
        let saved = CheckpointFiles.newestStep(dir)
        guard let victim = hosts.ranks()[1] else { return XCTFail("rank 1 not found") }
        kill(victim.pid, SIGKILL)
        let status = job.finish(within: 300)
        XCTAssertEqual(status, 0, "restarted and finished:\n\(job.stderr)")
        let err = job.stderr, out = job.stdout
        let restart = err.split(separator: "\n").first { $0.hasPrefix("multihost: restart 1 of 1") }.map(String.init) ?? ""
        XCTAssertTrue(restart.contains("rank 1") && restart.contains("signal 9"), "the restart and its cause are logged:\n\(err)")
        // The rerun continued from a checkpoint no older than the newest one before the kill.
        let resumedStep = out.split(separator: "\n").first { $0.hasPrefix("resumed from") }.flatMap(CheckpointFiles.step)
        XCTAssertGreaterThanOrEqual(resumedStep ?? -1, saved, "resumed from the newest checkpoint:\n\(out)")
        XCTAssertLessThan(saved, 3, "killed before the last step")
        let cmp = try ProgramRunner.run(bin.path, ["inspect", "\(Self.root)/straight/step-00000003.ckpt", "--compare", dir + "/step-00000003.ckpt",
                                                   "--tolerance", "0"])
        XCTAssertEqual(cmp.status, 0, "uninterrupted vs restarted:\n\(cmp.stdout.split(separator: "\n").suffix(5).joined(separator: "\n"))")
        print("restart: \(restart); resumed at step \(resumedStep ?? -1) (newest before the kill: \(saved))")
    }

    /// The deterministic mode across hosts: 20 steps on 3 ranks over 2 test hosts (2 ranks on one,
    /// 1 on the other; batch 3 over 8 images, so every third batch, of 2, leaves a rank empty) give
    /// bitwise one process's parameters, BatchNorm buffers and Adam state.
    func testDeterministicTrainingAcrossHostsGivesOneProcesssBits() throws {
        func cfg(_ name: String) throws -> String {
            try config(name, epochs: 8, batch: 3, distributed: "deterministic: true, timeout_s: 120")
        }
        let single = try ProgramRunner.run(bin.path, ["train", "--config", try cfg("det-one"), "--max-steps", "20"], timeout: 600)
        XCTAssertEqual(single.status, 0, single.stderr)
        for (name, slots, ranks) in [("det-hosts", [2, 1], 3)] {
            let hosts = try TestHosts(slots.count, slots: slots)
            defer { hosts.down() }
            let r = try run(hosts, ranks: ranks, ["train", "--config", try cfg(name), "--max-steps", "20"], timeout: 600)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(Set(r.placement.values).count, hosts.hosts.count, "one rank or more on every host: \(r.placement)")
            let cmp = try ProgramRunner.run(bin.path, ["inspect", "\(Self.root)/det-one/step-00000020.ckpt", "--compare",
                                                       "\(Self.root)/\(name)/step-00000020.ckpt", "--tolerance", "0"])
            XCTAssertEqual(cmp.status, 0, "\(name) vs one process:\n" + cmp.stdout.split(separator: "\n").suffix(6).joined(separator: "\n"))
        }
    }

    /// `bench dist --hosts 2 --link 1gbit`: one rank on each of 2 shaped test hosts, the ring
    /// model's all-reduce is 2(N−1)/N of the buffer over 1 Gbit/s, the measured one (Open MPI's,
    /// after backward) is no faster than the shaped link allows (an unshaped veth, measured
    /// first, is several times faster), and the hosts are gone afterwards.
    func testBenchDistOnShapedTestHosts() throws {
        let before = try ProgramRunner.run("/bin/sh", ["-c", "ip netns list"]).stdout
        let r = try ProgramRunner.run(bin.path, ["bench", "dist", "--hosts", "2", "--link", "1gbit", "--checkpoint", weights,
                                                 "--backbone", "hardnet39ds", "--batch", "2", "--repeats", "1", "--overlap", "off",
                                                 "--allreduce", "mpi", "--json"], timeout: 240)
        XCTAssertEqual(r.status, 0, r.stderr)
        let row = try XCTUnwrap(BenchRows.parse(r.stdout).first, r.stdout)
        XCTAssertEqual(row["hosts"] as? Int, 2)
        XCTAssertEqual(row["shard_sizes"] as? [Int], [1, 1])
        let mb = try XCTUnwrap(row["allreduce_mb"] as? Double), measured = try XCTUnwrap(row["allreduce_own_s"] as? Double)
        let model = try XCTUnwrap(row["model_allreduce_s"] as? Double)
        let binomial = try XCTUnwrap(row["model_binomial_allreduce_s"] as? Double)
        XCTAssertEqual(model, mb * 1e6 * 8 / 1e9, accuracy: 1e-9, "2 ranks, ring: the whole buffer once over the link")
        XCTAssertEqual(binomial, 2 * model, accuracy: 1e-9, "2 ranks, binomial: up, then down")
        XCTAssertGreaterThan(measured, 0.9 * model, "the link is shaped to 1 Gbit/s")
        let host = try XCTUnwrap(row["host_gbit"] as? Double, "the hosts' own rate, measured unshaped first")
        XCTAssertGreaterThan(host, 1, "unshaped veth is faster than the 1 Gbit/s link")
        let modelled = try XCTUnwrap(row["model_transport_allreduce_s"] as? Double)
        XCTAssertEqual(modelled, binomial * max(1, 1 / host), accuracy: 1e-9, "mpi: the binomial tree at the narrower of link and hosts")
        let share = try XCTUnwrap(row["allreduce_share"] as? Double), modelShare = try XCTUnwrap(row["model_allreduce_share"] as? Double)
        XCTAssert(share > 0 && share < 1 && modelShare > 0 && modelShare < 1, "shares \(share), \(modelShare)")
        XCTAssertEqual(try ProgramRunner.run("/bin/sh", ["-c", "ip netns list"]).stdout, before, "the test hosts are removed")
        print("bench dist, 2 hosts at 1gbit: all-reduce \(measured) s (ring \(model) s, binomial \(binomial) s), step \(row["seconds"] ?? 0) s (model \(row["model_step_s"] ?? 0) s)")
    }
}

/// The JSON rows a `--json` benchmark prints.
enum BenchRows {
    static func parse(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// The step checkpoints a training run's folder holds.
enum CheckpointFiles {
    /// The step a "resumed from … (step n)" line names.
    static func step(_ line: Substring) -> Int? {
        guard let r = line.range(of: "(step ") else { return nil }
        return Int(line[r.upperBound...].prefix { $0.isNumber })
    }

    /// The newest step-<n>.ckpt's n (0 when there is none).
    static func newestStep(_ dir: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .compactMap { f in f.hasPrefix("step-") && f.hasSuffix(".ckpt") ? Int(f.dropFirst(5).dropLast(5)) : nil }.max() ?? 0
    }
}
