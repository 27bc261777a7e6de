import Datasets
import Foundation
import TestSupport
import Training
import XCTest
@testable import Distributed
@testable import Network

/// Training on a tiny synthetic set with the real LiteMedSAM (skipped without its weights).
final class TrainerTests: XCTestCase {
    var dir: String!
    var weights: String!

    override func setUpWithError() throws {
        weights = try TestPaths.requireLiteMedSAM()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(UUID().uuidString)").path
        _ = try DemoDataGenerator(size: 96, seed: 3).write(to: dir + "/data", train: 4, test: 1)
    }

    override func tearDown() { if let dir { try? FileManager.default.removeItem(atPath: dir) } }

    func config(epochs: Int, out: String) -> TrainConfig {
        var c = TrainConfig()
        c.model.checkpoint = weights
        c.generator.backbone = "hardnet39ds"
        c.data.train = dir + "/data/TrainDataset"
        c.data.validationFraction = 0
        c.augment.variants = 2
        c.train.epochs = epochs
        c.train.batchSize = 2
        c.output.dir = dir + "/" + out
        c.output.cache = dir + "/cache"
        return c
    }

    /// Two epochs straight and one epoch + resume + one epoch end bit-identical.
    func testResumeContinuesExactly() throws {
        let comm = SingleProcessCommunicator()
        let straight = try Trainer(config: config(epochs: 2, out: "a"), comm: comm, context: TestContext.standard, print: { _ in })
        try straight.run()
        let first = try Trainer(config: config(epochs: 1, out: "b"), comm: comm, context: TestContext.standard, print: { _ in })
        try first.run()
        let resumed = try Trainer(config: config(epochs: 2, out: "b"), comm: comm, context: TestContext.standard, resume: dir + "/b/last.ckpt", print: { _ in })
        XCTAssertEqual(resumed.epoch, 1)
        try resumed.run()
        let a = try TrainingCheckpoint.read(dir + "/a/last.ckpt"), b = try TrainingCheckpoint.read(dir + "/b/last.ckpt")
        XCTAssertEqual(a.header.step, 4)
        XCTAssertEqual(b.header.step, 4)
        XCTAssertEqual(a.parameters, b.parameters, "parameters after resume")
        XCTAssertEqual(a.buffers, b.buffers, "BatchNorm running statistics after resume")
        XCTAssertEqual(a.adamM, b.adamM)
        XCTAssertEqual(a.adamV, b.adamV)
        XCTAssertNotEqual(a.parameters, first.checkpointParameters, "training moved the parameters")
        // The rebuilt model predicts exactly as the trainer's own.
        let rebuilt = try TrainedModel.load(dir + "/a/last.ckpt", context: TestContext.standard)
        XCTAssertEqual(rebuilt.model.generator.store.values, a.parameters)
    }

    func testTruncatedCheckpointIsAClearError() throws {
        let comm = SingleProcessCommunicator()
        let t = try Trainer(config: config(epochs: 1, out: "c"), comm: comm, context: TestContext.standard, print: { _ in })
        let path = dir + "/c.ckpt"
        try t.checkpoint().write(to: path)
        XCTAssertNoThrow(try TrainingCheckpoint.read(path))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 1000).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try TrainingCheckpoint.read(path)) { e in
            XCTAssertTrue("\(e)".hasPrefix(path), "\(e)")
            XCTAssertTrue("\(e)".contains("truncated or corrupted"), "\(e)")
        }
        XCTAssertThrowsError(try Trainer(config: config(epochs: 1, out: "d"), comm: comm, context: TestContext.standard, resume: path, print: { _ in })) { e in
            XCTAssertTrue("\(e)".contains(path), "\(e)")
        }
    }

    /// A rank whose SyncBatchNorm all-reduce fails gets the error back from `run` (naming the
    /// layer and the collective's message) instead of the process stopping, so the command can
    /// say which rank failed and end the job.
    func testFailedCollectiveIsAnErrorFromRun() throws {
        let t = try Trainer(config: config(epochs: 1, out: "e"), comm: BrokenAllReduce(), context: TestContext.standard,
                            print: { _ in })
        XCTAssertThrowsError(try t.run()) { e in
            guard let s = e as? SyncBatchNormError else { return XCTFail("not a SyncBatchNormError: \(e)") }
            XCTAssertEqual(s.phase, "statistics")
            XCTAssertEqual(s.layer, "backbone.base.0.norm")
            XCTAssertTrue("\(e)".contains("MPI allreduce failed: link down"), "\(e)")
        }
    }
}

/// One rank whose Double all-reduce (what SyncBatchNorm sends) fails; everything else works.
final class BrokenAllReduce: Communicator {
    let inner = SingleProcessCommunicator()
    var rank: Int { 0 }
    var size: Int { 1 }
    func allReduceSum(_ buffer: inout [Float]) throws {}
    func allReduceSum(_ buffer: inout [Double]) throws {
        throw CommunicatorError(operation: "allreduce", message: "link down")
    }
    func allReduceSum(_ buffer: inout [Int64]) throws {}
    func allReduceMax(_ buffer: inout [Int64]) throws {}
    func broadcast(_ buffer: inout [Float], root: Int) throws {}
    func broadcast(bytes: inout [UInt8], root: Int) throws {}
    func barrier() throws {}
    func abort(code: Int32) -> Never { inner.abort(code: code) }
}

extension Trainer {
    var checkpointParameters: [Float] { model.generator.store.values }
}
