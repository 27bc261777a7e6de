import Datasets
import Foundation
import TestSupport
import Training
import XCTest
@testable import Distributed
@testable import Network

/// Data-parallel training as a user runs it: real mpirun launches of the built binary on a
/// tiny synthetic set with the real LiteMedSAM and HarDNet-39DS g. Every test can fail: the
/// checks compare against a single-process reference, an uninterrupted run, or a deadline.
final class DataParallelTests: XCTestCase {
    static let root = FileManager.default.temporaryDirectory.appendingPathComponent("dp-\(UUID().uuidString)").path
    var bin: URL!
    var mpirun: String!
    var weights: String!

    override class func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    override func setUpWithError() throws {
        bin = try ProgramRunner.requireBinary()
        guard let m = ProgramRunner.mpirun else { throw XCTSkip("mpirun not installed") }
        mpirun = m
        weights = try TestPaths.requireLiteMedSAM()
    }

    /// A synthetic training set of `train` pairs (written once per size and shared).
    func data(_ train: Int) throws -> String {
        let d = "\(Self.root)/data\(train)"
        if !FileManager.default.fileExists(atPath: d + "/TrainDataset") {
            _ = try DemoDataGenerator(size: 96, seed: 5).write(to: d, train: train, test: 1)
        }
        return d + "/TrainDataset"
    }

    func config(_ name: String, data: String, batch: Int, epochs: Int = 1, extra: String = "", output: String? = nil,
                outputKeys: String = "") throws -> String {
        let text = """
        model: {sam: lite_medsam, checkpoint: \(weights!)}
        generator: {backbone: hardnet39ds}
        data: {train: \(data), validation_fraction: 0}
        augment: {enabled: true, variants: 1}
        train: {epochs: \(epochs), batch_size: \(batch), lr: 0.001}
        output: {dir: \(output ?? "\(Self.root)/\(name)"), cache: \(Self.root)/cache\(outputKeys)}
        \(extra)
        """
        let path = "\(Self.root)/\(name).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func run(_ ranks: Int, _ args: [String], timeout: TimeInterval = 900) throws -> ProgramRunner.Result {
        try ProgramRunner.run(mpirun, ["-n", "\(ranks)", "-x", "OPENBLAS_NUM_THREADS=1", bin.path] + args, timeout: timeout)
    }

    func steps(_ dir: String) throws -> [Double] {
        let text = try String(contentsOfFile: dir + "/steps.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Double]
            return o["loss"]!
        }
    }

    /// `verify` on 1–4 ranks: batch 10 (shards uneven at 3 and 4) and a last batch of 3, smaller
    /// than 4 ranks (rank 0's shard is empty): gradients, BatchNorm statistics and loss within
    /// 1e-5 of rank 0 computing each whole batch alone.
    func testVerifyAgreesWithTheSingleProcessPathOnOneToFourRanks() throws {
        let cfg = try config("verify", data: try data(13), batch: 10)
        for n in 1...4 {
            let r = try run(n, ["verify", "--config", cfg, "--steps", "2"])
            XCTAssertEqual(r.status, 0, "n=\(n):\n\(r.stdout)\n\(r.stderr)")
            XCTAssertTrue(r.stdout.contains("PASSED"), "n=\(n):\n\(r.stdout)")
            let expected = ShardPlan(ranks: n).sizes(batchCount: 3).map(String.init).joined(separator: ",")
            XCTAssertTrue(r.stdout.contains("step 2 (batch 3, shards \(expected))"), "n=\(n):\n\(r.stdout)")
            print("verify n=\(n):\n" + r.stdout.split(separator: "\n").filter { $0.hasPrefix("step") || $0.hasPrefix("verify") }.joined(separator: "\n"))
        }
    }

    /// 10 steps on 2 and 3 ranks against 1 rank (20 until the suite needed the time). Step 1 runs from the same parameters, so its loss
    /// differs only by how the batch is cut: measured ≤ 1.1e-7, held at 1e-6. After that the runs
    /// drift apart: Adam's early steps move each weight by about lr·sign(g), and gradients at
    /// float32 rounding level (those before a BatchNorm, and the ~1e-3 relative differences
    /// BatchNorm's backward makes of shard-size-dependent rounding; see `verify`) flip sign between
    /// shardings, and the drift is chaotic: the same code measured a worst of 5.7e-2 (step 17) in
    /// one session and 0.154 (step 18) in the next. So the default mode is held to what it
    /// promises — step 1 within 1e-6 (local BatchNorm statistics instead of SyncBatchNorm's fail
    /// it) and every rank count training — and equality over 20 steps is checked bit for bit in
    /// the deterministic mode (`testDeterministicRanksGiveOneRanksBits`).
    func testTenStepLossesFollowOneRank() throws {
        let d = try data(24)
        var losses: [Int: [Double]] = [:]
        for n in [1, 2, 3] {
            let cfg = try config("losses\(n)", data: d, batch: 6, epochs: 10)
            let r = try run(n, ["train", "--config", cfg, "--max-steps", "10"])
            XCTAssertEqual(r.status, 0, "n=\(n):\n\(r.stdout)\n\(r.stderr)")
            losses[n] = try steps("\(Self.root)/losses\(n)")
            XCTAssertEqual(losses[n]?.count, 10, "n=\(n)")
        }
        var worst = 0.0
        for n in [2, 3] {
            guard let a = losses[1], let b = losses[n], a.count == 10, b.count == 10 else { continue }
            XCTAssertLessThan(abs(a[0] - b[0]) / abs(a[0]), 1e-6, "step 1, \(n) ranks: \(b[0]) vs \(a[0])")
            for i in 0..<10 {
                XCTAssert(b[i].isFinite, "step \(i + 1), \(n) ranks: loss \(b[i])")
                worst = max(worst, abs(a[i] - b[i]) / abs(a[i]))
            }
        }
        for n in [1, 2, 3] {
            guard let l = losses[n], l.count == 10 else { continue }
            XCTAssertLessThan(l.suffix(3).reduce(0, +), l.prefix(3).reduce(0, +) * 0.9, "\(n) rank(s): training lowered the loss")
        }
        print("10-step losses, 2 and 3 ranks vs 1: step 1 within 1e-6, worst relative difference \(worst)")
    }

    /// SIGKILL a 2-rank run mid-epoch, `--resume auto`: the result equals an uninterrupted run bit for bit.
    func testKilledRunResumesToTheSameBits() throws {
        let d = try data(12)
        let extra = "distributed: {timeout_s: 120}"
        let straight = try config("straight", data: d, batch: 4, epochs: 2, extra: extra)
        let r = try run(2, ["train", "--config", straight])
        XCTAssertEqual(r.status, 0, r.stderr)
        let killedDir = "\(Self.root)/killed"
        let killed = try config("killed", data: d, batch: 4, epochs: 2, extra: extra, outputKeys: ", checkpoint_every_steps: 1")
        let job = try MPIJob(ranks: 2, ["train", "--config", killed], binary: bin, mpirun: mpirun)
        // Step 2 of 6 is inside the first epoch (3 batches of 4).
        XCTAssertTrue(job.wait(upTo: 600) { FileManager.default.fileExists(atPath: killedDir + "/step-00000002.ckpt") }, job.stderr)
        let pids = job.rankPIDs()
        XCTAssertEqual(pids.count, 2, "found the job's ranks")
        for pid in pids.values { kill(pid, SIGKILL) }
        XCTAssertNotNil(job.finish(within: 60), "mpirun ended after its ranks were killed")
        if FileManager.default.fileExists(atPath: killedDir + "/last.ckpt") {
            XCTAssertLessThan(try TrainingCheckpoint.read(killedDir + "/last.ckpt").header.epoch, 2, "the kill came before the end")
        }
        for s in CheckpointStore(directory: killedDir, keep: 3).stepCheckpoints() {
            XCTAssertNoThrow(try TrainingCheckpoint.read(s.path), "\(s.path) loads after the kill")
        }
        let resumed = try run(2, ["train", "--config", killed, "--resume", "auto"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resumed from"), resumed.stdout)
        let cmp = try ProgramRunner.run(bin.path, ["inspect", "\(Self.root)/straight/last.ckpt", "--compare", killedDir + "/last.ckpt", "--tolerance", "0"])
        XCTAssertEqual(cmp.status, 0, "uninterrupted vs killed-and-resumed:\n\(cmp.stdout)\n\(cmp.stderr)")
        XCTAssertEqual(try steps("\(Self.root)/straight"), try steps(killedDir), "per-step losses")
    }

    /// A rank stopped with SIGSTOP ends the job within the collective timeout plus 30 s, named.
    func testStalledRankEndsTheJobNamingIt() throws {
        let dir = "\(Self.root)/stalled"
        let cfg = try config("stalled", data: try data(12), batch: 4, epochs: 20,
                             extra: "distributed: {timeout_s: 5}", outputKeys: ", checkpoint_every_steps: 1")
        let job = try MPIJob(ranks: 2, ["train", "--config", cfg], binary: bin, mpirun: mpirun)
        XCTAssertTrue(job.wait(upTo: 600) { FileManager.default.fileExists(atPath: dir + "/step-00000001.ckpt") }, job.stderr)
        guard let victim = job.rankPIDs()[1] else { return XCTFail("rank 1 not found") }
        kill(victim, SIGSTOP)
        let stopped = Date()
        let status = job.finish(within: 5 + 30 + 10)
        XCTAssertNotNil(status, "the job ended")
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(stopped), 5 + 30, "within the timeout plus 30 s")
        // Rank 0 names rank 1, whether it was stopped before a collective or inside one.
        XCTAssertTrue(job.stderr.contains("(rank 0 of 2): error:") && job.stderr.contains("rank(s) 1 ("), job.stderr)
        XCTAssertTrue(job.stderr.contains("stopped answering"), job.stderr)
        XCTAssertTrue(job.stderr.contains("did not complete within 5 s"), job.stderr)
        for s in CheckpointStore(directory: dir, keep: 3).stepCheckpoints() {
            XCTAssertNoThrow(try TrainingCheckpoint.read(s.path), "\(s.path) loads after the stall")
        }
    }

    /// A rank that throws (here: it meets a corrupt image) ends the whole job with its message.
    func testFailingRankEndsTheJobWithItsMessage() throws {
        let d = "\(Self.root)/corrupt"
        if !FileManager.default.fileExists(atPath: d) {
            _ = try DemoDataGenerator(size: 96, seed: 5).write(to: d, train: 8, test: 1)
        }
        let images = try FileManager.default.contentsOfDirectory(atPath: d + "/TrainDataset/images").sorted()
        let bad = d + "/TrainDataset/images/" + images[3]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: bad))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: bad))
        let cfg = try config("failing", data: d + "/TrainDataset", batch: 4, epochs: 2,
                             extra: "distributed: {timeout_s: 60}", output: "\(Self.root)/failing")
        let t0 = Date()
        let r = try run(2, ["train", "--config", cfg], timeout: 600)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(images[3]), r.stderr)
        XCTAssertTrue(r.stderr.contains("error:"), r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 300)
    }

    /// Ranks that see different data are stopped at start, naming the rank.
    func testRanksWithDifferentDataAreStopped() throws {
        let a = try config("same", data: try data(8), batch: 4)
        let b = try config("other", data: try data(9), batch: 4, output: "\(Self.root)/same")
        let r = try ProgramRunner.run(mpirun, ["-n", "1", "-x", "OPENBLAS_NUM_THREADS=1", bin.path, "train", "--config", a, ":",
                                               "-n", "1", "-x", "OPENBLAS_NUM_THREADS=1", bin.path, "train", "--config", b], timeout: 300)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("rank 1: the config, the dataset manifest differ from rank 0's"), r.stderr)
    }

    /// More ranks than the global batch has samples is refused before any work.
    func testMoreRanksThanTheBatchIsRefused() throws {
        let cfg = try config("toomany", data: try data(8), batch: 2)
        let r = try run(3, ["train", "--config", cfg], timeout: 300)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("train.batch_size 2 is smaller than the 3 ranks"), r.stderr)
    }
}

extension DataParallelTests {
    /// `train --trace` on 2 ranks: one track per rank, each with the step's phases and every
    /// chunk of the gradient all-reduce, the chunks covering the whole gradient buffer.
    func testTraceShowsEveryRanksPhasesAndAllReduceChunks() throws {
        let out = "\(Self.root)/traced"
        let cfg = try config("traced", data: try data(4), batch: 4)
        let r = try run(2, ["train", "--config", cfg, "--max-steps", "1", "--trace", out + "/trace.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let trace = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/trace.json"))) as! [String: Any]
        let events = trace["traceEvents"] as! [[String: Any]]
        let tracks = events.filter { $0["ph"] as? String == "M" }.compactMap { ($0["args"] as? [String: String])?["name"] }
        XCTAssertEqual(tracks, ["rank 0", "rank 1"])
        var rng = SeededRNG(seed: 1)
        let g = PromptGenerator(variant: HarDNetVariant.named("hardnet39ds")!, context: TestContext.standard, rng: &rng)
        for rank in 0..<2 {
            let mine = events.filter { $0["ph"] as? String == "X" && $0["pid"] as? Int == rank }
            let names = Set(mine.compactMap { $0["name"] as? String })
            for phase in ["data + encoder/cache", "g forward", "decoder + loss", "g backward", "Adam", "checkpoint"] where rank == 0 || phase != "checkpoint" {
                XCTAssertTrue(names.contains(phase), "rank \(rank) has no \(phase) span: \(names.sorted())")
            }
            let chunks = mine.filter { ($0["name"] as? String)?.hasPrefix("gradient all-reduce") == true }
            XCTAssertGreaterThan(chunks.count, 1, "the gradient buffer travels in several chunks")
            let floats = chunks.compactMap { Int(($0["args"] as? [String: String])?["floats"] ?? "") }.reduce(0, +)
            XCTAssertEqual(floats, g.store.grads.count, "rank \(rank)'s chunks cover the gradient buffer once")
            XCTAssert(mine.allSatisfy { ($0["dur"] as? Double ?? -1) >= 0 })
            let backward = try XCTUnwrap(mine.first { $0["name"] as? String == "g backward" })
            let firstStart = chunks.compactMap { $0["ts"] as? Double }.min() ?? .infinity
            XCTAssertLessThan(firstStart, (backward["ts"] as! Double) + (backward["dur"] as! Double),
                              "rank \(rank): the first gradient bucket starts while backward runs (overlap)")
        }
    }

    /// Gradient buckets started while backward runs give the same bits as buckets started after
    /// it: 3 ranks (shards 2,2,2), 3 steps, parameters, statistics and Adam state compared with
    /// `inspect --tolerance 0`, for the ring and for Open MPI's all-reduce.
    func testOverlapOnAndOffGiveTheSameBits() throws {
        let d = try data(12)
        for transport in ["ring", "mpi"] {
            for overlap in [true, false] {
                let name = "overlap-\(transport)-\(overlap)"
                // 6 MB buckets on Open MPI's all-reduce: several 4 MB pieces each, several buckets in flight.
                let mb = transport == "mpi" ? 6 : 2
                let cfg = try config(name, data: d, batch: 6, epochs: 2, extra: "distributed: {overlap: \(overlap), allreduce: \(transport), bucket_mb: \(mb)}")
                let r = try run(3, ["train", "--config", cfg, "--max-steps", "3"])
                XCTAssertEqual(r.status, 0, "\(name):\n\(r.stdout)\n\(r.stderr)")
            }
            let cmp = try ProgramRunner.run(bin.path, ["inspect", "\(Self.root)/overlap-\(transport)-true/step-00000003.ckpt", "--compare",
                                                       "\(Self.root)/overlap-\(transport)-false/step-00000003.ckpt", "--tolerance", "0"])
            XCTAssertEqual(cmp.status, 0, "\(transport): overlap on vs off\n" + cmp.stdout.split(separator: "\n").suffix(4).joined(separator: "\n"))
        }
    }
}
