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

    /// `generator.input_size` sets the side of g's input in the model and the pipeline that
    /// feeds it, a step runs, and the checkpoint rebuilds g at that side.
    func testGeneratorInputSizeReachesTheStepAndTheCheckpoint() throws {
        var c = config(epochs: 1, out: "side")
        c.generator.inputSize = 128
        c.augment.enabled = false     // the side is the point here, not the variants: half the encoder passes
        let t = try Trainer(config: c, comm: SingleProcessCommunicator(), context: TestContext.standard, maxSteps: 1, print: { _ in })
        XCTAssertEqual(t.model.generatorSide, 128)
        XCTAssertEqual(t.pipeline.generatorSide, 128)
        try t.run()
        let ck = CheckpointStore(directory: c.output.dir, keep: 3).stepPath(1)
        XCTAssertEqual(try TrainedModel.load(ck, context: TestContext.standard).model.generatorSide, 128)
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
        t.writesOutputs = false   // no cache fill or validation first: SyncBatchNorm's is the first collective
        XCTAssertThrowsError(try t.run()) { e in
            // The trainer says where it happened (rank, epoch, step, phase) around the layer's error.
            guard let f = e as? TrainingFailure, let s = f.underlying as? SyncBatchNormError else {
                return XCTFail("not a SyncBatchNormError inside a TrainingFailure: \(e)")
            }
            XCTAssertEqual(f.phase, "g forward")
            XCTAssertTrue("\(e)".hasPrefix("rank 0, epoch 1, step 1, g forward: "), "\(e)")
            XCTAssertEqual(s.phase, "statistics")
            XCTAssertEqual(s.layer, "backbone.base.0.norm")
            XCTAssertTrue("\(e)".contains("MPI allreduce failed: link down"), "\(e)")
        }
    }
}

/// A test group of `size` ranks in one process whose collectives do nothing; doubles override
/// the ones they test.
class StubGroup: Communicator {
    let size: Int
    init(size: Int) { self.size = size }
    var rank: Int { 0 }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    func allReduceSum(_ buffer: inout [Double]) throws {}
    func allReduceSum(_ buffer: inout [Int64]) throws {}
    func allReduceMax(_ buffer: inout [Int64]) throws {}
    func broadcast(_ buffer: inout [Float], root: Int) throws {}
    func broadcast(bytes: inout [UInt8], root: Int) throws {}
    func barrier() throws {}
    var timeout: Double = 0
    func abort(code: Int32) -> Never { exit(code) }
    func startGradientSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int, transport: GradientTransport,
                          compression: GradientCompression) throws {
        try allReduceSum(buffer)
    }
    func progressGradientSums() throws {}
    func finishGradientSums() throws {}
    func gradientSumDone(slot: Int) -> Bool { true }
}

/// One rank whose Double all-reduce (what SyncBatchNorm sends) fails; everything else works.
final class BrokenAllReduce: StubGroup {
    init() { super.init(size: 1) }
    override func allReduceSum(_ buffer: inout [Double]) throws {
        throw CommunicatorError(operation: "allreduce", message: "link down")
    }
}

extension TrainerTests {
    /// A step checkpoint mid-epoch, resumed, ends bit-identical to a run never stopped.
    func testStepCheckpointResumesMidEpochExactly() throws {
        let comm = SingleProcessCommunicator()
        var c = config(epochs: 2, out: "s")
        c.train.batchSize = 1
        try Trainer(config: c, comm: comm, context: TestContext.standard, print: { _ in }).run()
        c.output.dir = dir + "/t"
        c.output.checkpointEverySteps = 1
        c.output.keep = 2
        let first = try Trainer(config: c, comm: comm, context: TestContext.standard, maxSteps: 3, print: { _ in })
        try first.run()
        XCTAssertEqual(first.step, 3)
        let store = CheckpointStore(directory: c.output.dir, keep: 2)
        XCTAssertEqual(store.stepCheckpoints().map(\.step), [2, 3], "the newest 2 step checkpoints are kept")
        let mid = try TrainingCheckpoint.read(store.stepPath(3))
        XCTAssertEqual(mid.header.position?.epoch, 0)
        XCTAssertEqual(mid.header.position?.batch, 3, "stopped after 3 of the epoch's 4 batches")
        let resumed = try Trainer(config: c, comm: comm, context: TestContext.standard, resume: "auto", print: { _ in })
        XCTAssertEqual(resumed.step, 3)
        try resumed.run()
        let a = try TrainingCheckpoint.read(dir + "/s/last.ckpt"), b = try TrainingCheckpoint.read(dir + "/t/last.ckpt")
        XCTAssertEqual(b.header.step, 8)
        XCTAssertEqual(a.parameters, b.parameters)
        XCTAssertEqual(a.buffers, b.buffers)
        XCTAssertEqual(a.adamM, b.adamM)
        XCTAssertEqual(a.adamV, b.adamV)
        XCTAssertEqual(a.header.history.map { $0["train_loss"] }, b.header.history.map { $0["train_loss"] })
    }

    /// `--resume auto` with nothing to resume starts fresh; a resume against other inputs is refused, naming each.
    func testResumeRefusesChangedInputs() throws {
        let comm = SingleProcessCommunicator()
        var c = config(epochs: 1, out: "r")
        var lines: [String] = []
        let fresh = try Trainer(config: c, comm: comm, context: TestContext.standard, resume: "auto", maxSteps: 1, print: { lines.append($0) })
        XCTAssertTrue(lines.contains { $0.contains("no checkpoint") && $0.contains("starting fresh") }, "\(lines)")
        try fresh.run()
        let ck = CheckpointStore(directory: c.output.dir, keep: 3).stepPath(1)
        var changed = c
        changed.train.batchSize = 1
        changed.train.lr = 0.01
        XCTAssertThrowsError(try Trainer(config: changed, comm: comm, context: TestContext.standard, resume: ck, print: { _ in })) { e in
            XCTAssertTrue("\(e)".contains("train.batch_size: 2 in the checkpoint, 1 now"), "\(e)")
            XCTAssertTrue("\(e)".contains("train.lr: "), "\(e)")
        }
        changed = c
        changed.generator.backbone = "hardnet68"
        XCTAssertThrowsError(try Trainer(config: changed, comm: comm, context: TestContext.standard, resume: ck, print: { _ in })) { e in
            XCTAssertTrue("\(e)".contains("hardnet39ds") && "\(e)".contains("hardnet68"), "\(e)")
        }
        changed = c
        changed.generator.inputSize = 128
        XCTAssertThrowsError(try Trainer(config: changed, comm: comm, context: TestContext.standard, resume: ck, print: { _ in })) { e in
            XCTAssertTrue("\(e)".contains("generator.input_size: absent in the checkpoint, 128 now"), "\(e)")
        }
        _ = try DemoDataGenerator(size: 96, seed: 4).write(to: dir + "/more", train: 5, test: 1)
        changed = c
        changed.data.train = dir + "/more/TrainDataset"
        XCTAssertThrowsError(try Trainer(config: changed, comm: comm, context: TestContext.standard, resume: ck, print: { _ in })) { e in
            XCTAssertTrue("\(e)".contains("training data: 4 pairs in the checkpoint, 5 now"), "\(e)")
        }
        // Keys that do not change the result may change.
        c.train.epochs = 3
        c.output.keep = 5
        XCTAssertNoThrow(try Trainer(config: c, comm: comm, context: TestContext.standard, resume: ck, print: { _ in }))
    }
}

extension Trainer {
    var checkpointParameters: [Float] { model.generator.store.values }
}
