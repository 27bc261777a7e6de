import Foundation
import TestSupport
import XCTest
@testable import Distributed

/// `distributed.deterministic`: N ranks give the bits of one rank, step after step, uneven and
/// empty shards included, and a run resumed on another rank count continues with those bits.
extension DataParallelTests {
    func testDeterministicRanksGiveOneRanksBits() throws {
        // 9 images, batch 4: batches 4, 4, 1 — shards 2,2 / 1,1,2 / 1,1,1,1, and the last batch
        // leaves ranks with empty shards.
        let data = try data(9)
        func cfg(_ name: String) throws -> String {
            try config(name, data: data, batch: 4, epochs: 7, extra: "distributed: {deterministic: true}",
                       outputKeys: ", checkpoint_every_steps: 10")
        }
        func train(_ ranks: Int, _ name: String, steps: Int, resume: String? = nil) throws {
            let r = try run(ranks, ["train", "--config", try cfg(name), "--max-steps", "\(steps)"] + (resume.map { ["--resume", $0] } ?? []))
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
        }
        let dir = { (name: String) in "\(Self.root)/\(name)" }
        try train(1, "det1", steps: 20)
        try train(2, "det2", steps: 20)
        try train(4, "det4", steps: 10)
        // 2 ranks' step-10 checkpoint continued on 3 ranks.
        try train(3, "det23", steps: 20, resume: dir("det2") + "/step-00000010.ckpt")
        let losses = try steps(dir("det1"))
        XCTAssertEqual(losses.count, 20)
        for (name, step) in [("det2", 20), ("det4", 10), ("det23", 20)] {
            let ckpt = String(format: "/step-%08d.ckpt", step)
            let cmp = try ProgramRunner.run(bin.path, ["inspect", dir("det1") + ckpt, "--compare", dir(name) + ckpt, "--tolerance", "0"])
            XCTAssertEqual(cmp.status, 0, "\(name) differs from one rank at step \(step):\n\(cmp.stdout.split(separator: "\n").suffix(5).joined(separator: "\n"))")
            let got = try steps(dir(name))
            XCTAssertEqual(got.suffix(name == "det23" ? 10 : step).map(\.bitPattern), losses[(name == "det23" ? 10 : 0)..<step].map(\.bitPattern),
                           "\(name): per-step losses")
        }
    }

    /// `verify` in the mode on 1–4 ranks, the global batch of 10 (shards uneven at 3 and 4) and a
    /// last batch of 3 (smaller than 4 ranks: an empty shard): the distributed step equals rank
    /// 0's whole-batch step exactly, gradients, BatchNorm statistics and loss.
    func testDeterministicVerifyIsExact() throws {
        let cfg = try config("detverify", data: try data(13), batch: 10, extra: "distributed: {deterministic: true}")
        for n in 1...4 {
            let r = try run(n, ["verify", "--config", cfg, "--steps", "2", "--tolerance", "0", "--gradient-tolerance", "0"])
            XCTAssertEqual(r.status, 0, "n=\(n): " + r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.contains("gradients 0.00e+00"), "n=\(n): " + r.stdout)
            let shards = ShardPlan(ranks: n).sizes(batchCount: 3).map(String.init).joined(separator: ",")
            XCTAssertTrue(r.stdout.contains("step 2 (batch 3, shards \(shards))"), "n=\(n): " + r.stdout)
        }
    }

    /// The mode is the same mathematics as the default path: on one rank, from the same
    /// parameters, step 1's loss agrees within verify's loss tolerance (1e-5 relative; the two
    /// differ only in summation order and the engine), and both runs train.
    func testDeterministicOneRankStaysWithinToleranceOfTheDefaultPath() throws {
        let data = try data(9)
        var first: [Double] = []
        for (name, extra) in [("plain1", ""), ("detplain1", "distributed: {deterministic: true}")] {
            let cfg = try config(name, data: data, batch: 4, extra: extra)
            let r = try run(1, ["train", "--config", cfg, "--max-steps", "3"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let l = try steps("\(Self.root)/\(name)")
            XCTAssertEqual(l.count, 3)
            XCTAssertTrue(l.allSatisfy(\.isFinite), "\(name): \(l)")
            first.append(l[0])
        }
        let rel = abs(first[1] - first[0]) / abs(first[0])
        print("deterministic vs default, 1 rank, step-1 loss: relative difference \(rel)")
        XCTAssertLessThanOrEqual(rel, 1e-5, "step-1 losses \(first)")
    }

    /// The option refuses what would break its promise: oneDNN, or more than one thread per rank.
    func testDeterministicRefusesOneDNNAndThreads() throws {
        let cfg = try config("detrefuse", data: try data(9), batch: 4, extra: "distributed: {deterministic: true}")
        let threads = try ProgramRunner.run(bin.path, ["train", "--config", cfg, "--threads", "2", "--max-steps", "1"])
        XCTAssertNotEqual(threads.status, 0)
        XCTAssertTrue(threads.stderr.contains("one compute thread per rank"), threads.stderr)
        if (try? ProgramRunner.run(bin.path, ["info"]))?.stdout.contains("oneDNN") == true {
            let dnnl = try ProgramRunner.run(bin.path, ["train", "--config", cfg, "--conv-engine", "onednn", "--max-steps", "1"])
            XCTAssertNotEqual(dnnl.status, 0)
            XCTAssertTrue(dnnl.stderr.contains("reference convolution engine"), dnnl.stderr)
        }
    }
}
