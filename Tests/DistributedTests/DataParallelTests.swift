import Datasets
import Foundation
import TestSupport
import Training
import XCTest
@testable import Distributed
@testable import Network

/// The same training job on 1 and 2 MPI ranks (real mpirun launches of the built binary):
/// with SyncBatchNorm and one flat gradient all-reduce the runs agree up to floating-point
/// summation order.
final class DataParallelTests: XCTestCase {
    func testOneAndTwoRanksTrainTheSameModel() throws {
        let bin = try ProgramRunner.requireBinary()
        guard let mpirun = ProgramRunner.mpirun else { throw XCTSkip("mpirun not installed") }
        let weights = try TestPaths.requireLiteMedSAM()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try DemoDataGenerator(size: 128, seed: 5).write(to: dir + "/data", train: 4, test: 1)
        for n in [1, 2] {
            let cfg = """
            model: {sam: lite_medsam, checkpoint: \(weights)}
            generator: {backbone: hardnet39ds}
            data: {train: \(dir)/data/TrainDataset, validation_fraction: 0}
            augment: {enabled: true, variants: 1}
            train: {epochs: 1, batch_size: 4, lr: 0.001}
            output: {dir: \(dir)/run\(n), cache: \(dir)/cache}
            """
            try cfg.write(toFile: "\(dir)/cfg\(n).yaml", atomically: true, encoding: .utf8)
            // One epoch (one step), then a resumed second epoch: resuming under mpirun is exercised too.
            let r1 = try ProgramRunner.run(mpirun, ["-n", "\(n)", "-x", "OPENBLAS_NUM_THREADS=1", bin.path, "train",
                                                    "--config", "\(dir)/cfg\(n).yaml", "--epochs", "1"], timeout: 900)
            XCTAssertEqual(r1.status, 0, "n=\(n): \(r1.stderr)\n\(r1.stdout)")
            try FileManager.default.copyItem(atPath: "\(dir)/run\(n)/last.ckpt", toPath: "\(dir)/run\(n)/epoch1.ckpt")
            let r2 = try ProgramRunner.run(mpirun, ["-n", "\(n)", "-x", "OPENBLAS_NUM_THREADS=1", bin.path, "train",
                                                    "--config", "\(dir)/cfg\(n).yaml", "--epochs", "2",
                                                    "--resume", "\(dir)/run\(n)/epoch1.ckpt"], timeout: 900)
            XCTAssertEqual(r2.status, 0, "n=\(n): \(r2.stderr)\n\(r2.stdout)")
        }
        let lr: Float = 0.001
        // After one step from identical weights: BatchNorm statistics come from the same global
        // batch, so they agree to Double-sum rounding; Adam's first step moves each weight by
        // lr·g/(|g| + eps), whose sign can flip for a gradient that is ~0, so weights agree within 2·lr.
        let a1 = try TrainingCheckpoint.read(dir + "/run1/epoch1.ckpt"), b1 = try TrainingCheckpoint.read(dir + "/run2/epoch1.ckpt")
        var worst1: Float = 0
        for i in 0..<a1.buffers.count { worst1 = max(worst1, abs(a1.buffers[i] - b1.buffers[i]) / max(1, abs(a1.buffers[i]))) }
        XCTAssertLessThan(worst1, 1e-5, "BatchNorm running statistics after one step, 1 vs 2 ranks")
        XCTAssertLessThanOrEqual(zip(a1.parameters, b1.parameters).map { abs($0 - $1) }.max()!, 2 * lr + 1e-6)
        let a = try TrainingCheckpoint.read(dir + "/run1/last.ckpt"), b = try TrainingCheckpoint.read(dir + "/run2/last.ckpt")
        XCTAssertEqual(a.header.step, 2)
        XCTAssertEqual(b.header.step, 2)
        let la = a.header.history.compactMap { $0["train_loss"] }, lb = b.header.history.compactMap { $0["train_loss"] }
        XCTAssertEqual(la.count, 2)
        for (x, y) in zip(la, lb) { XCTAssertEqual(x, y, accuracy: 1e-5 * abs(x), "per-epoch loss, 1 vs 2 ranks") }
        // After two steps: each run moves a weight by at most ~lr per step, so 2·lr·steps bounds
        // any sign-flip divergence; all but a tiny fraction agree to 1e-5.
        var worst: Float = 0, moved = 0
        for i in 0..<a.parameters.count {
            let d = abs(a.parameters[i] - b.parameters[i])
            worst = max(worst, d)
            if d > 1e-5 { moved += 1 }
        }
        XCTAssertLessThanOrEqual(worst, 2 * lr * 2 + 1e-6, "no parameter differs by more than 2·lr per step")
        XCTAssertLessThan(Double(moved) / Double(a.parameters.count), 0.01, "fraction of parameters differing by > 1e-5")
    }
}
