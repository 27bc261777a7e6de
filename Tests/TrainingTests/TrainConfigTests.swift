import XCTest
@testable import Training

final class TrainConfigTests: XCTestCase {
    func testDefaultsAndOverrides() throws {
        let c = try TrainConfig.parse("""
        model:
          sam: lite_medsam
        train:
          epochs: 3
          batch_size: 10
          lr: 0.001
        loss:
          activation: minmax
        """)
        XCTAssertEqual(c.train.epochs, 3)
        XCTAssertEqual(c.train.lr, 0.001)
        XCTAssertEqual(c.train.weightDecay, 1e-5)
        XCTAssertEqual(c.loss.activation, .minMax)
        XCTAssertEqual(try TrainConfig.parse(""), TrainConfig())
    }

    func testTypoIsRejectedWithSuggestion() {
        XCTAssertThrowsError(try TrainConfig.parse("train:\n  batchsize: 8\n", path: "cfg.yaml")) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix("cfg.yaml: unknown key 'train.batchsize'"), s)
            XCTAssertTrue(s.contains("did you mean 'batch_size'"), s)
        }
        XCTAssertThrowsError(try TrainConfig.parse("optim:\n  lr: 1\n", path: "c.yaml")) { e in
            XCTAssertTrue("\(e)".contains("unknown key 'optim'"), "\(e)")
        }
    }

    func testBadValuesNameTheKey() {
        XCTAssertThrowsError(try TrainConfig.parse("train:\n  epochs: 0\n", path: "c.yaml")) { e in
            XCTAssertEqual("\(e)", "c.yaml: train.epochs must be at least 1, got 0")
        }
        XCTAssertThrowsError(try TrainConfig.parse("model:\n  sam: vit_q\n", path: "c.yaml")) { e in
            XCTAssertTrue("\(e)".contains("model.sam"), "\(e)")
        }
        XCTAssertThrowsError(try TrainConfig.parse("train:\n  lr: fast\n", path: "c.yaml")) { e in
            XCTAssertTrue("\(e)".contains("train.lr"), "\(e)")
        }
    }

    func testCheckpointCadenceAndDistributedKeys() throws {
        let c = try TrainConfig.parse("""
        train: {drop_last: true}
        output: {checkpoint_every_steps: 25, checkpoint_every_minutes: 12.5, keep: 5}
        distributed: {timeout_s: 30, check_every: 7}
        """)
        XCTAssertTrue(c.train.dropLast)
        XCTAssertEqual(c.output.checkpointEverySteps, 25)
        XCTAssertEqual(c.output.checkpointEveryMinutes, 12.5)
        XCTAssertEqual(c.output.keep, 5)
        XCTAssertEqual(c.distributed.timeoutS, 30)
        XCTAssertEqual(c.distributed.checkEvery, 7)
        let d = try TrainConfig.parse("")
        XCTAssertFalse(d.train.dropLast)
        XCTAssertNil(d.output.checkpointEverySteps)
        XCTAssertEqual(d.distributed.timeoutS, 600)
        for (text, key) in [("output: {keep: 0}", "output.keep"), ("distributed: {timeout_s: -1}", "distributed.timeout_s"),
                            ("output: {checkpoint_every_steps: 0}", "output.checkpoint_every_steps"),
                            ("distributed: {timeout: 5}", "did you mean 'timeout_s'")] {
            XCTAssertThrowsError(try TrainConfig.parse(text, path: "c.yaml")) { e in
                XCTAssertTrue("\(e)".contains(key), "\(text): \(e)")
            }
        }
    }

    func testYamlRoundTrip() throws {
        var c = TrainConfig()
        c.train.epochs = 7
        c.data.test = ["a", "b"]
        XCTAssertEqual(try TrainConfig.parse(try c.yaml()), c)
    }
}
