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

    /// g's input side: SAM's input (at most 512) unless `generator.input_size` says otherwise;
    /// a side g cannot take is refused, and a checkpoint records a side that was set.
    func testGeneratorInputSize() throws {
        XCTAssertEqual(TrainConfig().generatorSide, 256)
        XCTAssertEqual(try TrainConfig.parse("model: {sam: vit_b}").generatorSide, 512)
        let c = try TrainConfig.parse("generator: {input_size: 320}")
        XCTAssertEqual(c.generatorSide, 320)
        XCTAssertEqual(try TrainConfig.parse(try c.yaml()), c)
        for n in [100, 48, 1040] {
            XCTAssertThrowsError(try TrainConfig.parse("generator: {input_size: \(n)}", path: "c.yaml")) { e in
                XCTAssertEqual("\(e)", "c.yaml: generator.input_size must be a multiple of 16 from 64 to 1024 (g's backbone stops at stride 16), got \(n)")
            }
        }
        let manifest = try DatasetManifest(train: [], validation: [])
        let then = RunIdentity(config: c, samSHA256: "s", manifest: manifest)
        XCTAssertEqual(then.differences(from: RunIdentity(config: TrainConfig(), samSHA256: "s", manifest: manifest)),
                       ["generator.input_size: 320 in the checkpoint, absent now"])
        // Unset, it is not recorded: checkpoints from before the key resume.
        XCTAssertFalse(RunIdentity(config: TrainConfig(), samSHA256: "s", manifest: manifest).settings
            .contains { $0.hasPrefix("generator.input_size") })
    }

    func testYamlRoundTrip() throws {
        var c = TrainConfig()
        c.train.epochs = 7
        c.data.test = ["a", "b"]
        XCTAssertEqual(try TrainConfig.parse(try c.yaml()), c)
    }

    /// Linear warm-up to the peak, then a half cosine to 0 over the run; constant stays constant.
    func testLearningRateSchedules() {
        let c = LRSchedule.cosine, k = LRSchedule.constant
        XCTAssertEqual(k.rate(base: 1e-3, step: 57, total: 100, warmup: 0), 1e-3)
        XCTAssertEqual(k.rate(base: 1e-3, step: 0, total: 100, warmup: 4), 2.5e-4, accuracy: 1e-9)
        XCTAssertEqual(c.rate(base: 1e-3, step: 0, total: 100, warmup: 4), 2.5e-4, accuracy: 1e-9)
        XCTAssertEqual(c.rate(base: 1e-3, step: 3, total: 100, warmup: 4), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(c.rate(base: 1e-3, step: 4, total: 100, warmup: 4), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(c.rate(base: 1e-3, step: 52, total: 100, warmup: 4), 5e-4, accuracy: 1e-9, "half way after the warm-up")
        let last = c.rate(base: 1e-3, step: 99, total: 100, warmup: 4)
        XCTAssertGreaterThan(last, 0)
        XCTAssertLessThan(last, 1e-6)
        let rates = (0..<100).map { c.rate(base: 1e-3, step: $0, total: 100, warmup: 4) }
        XCTAssertEqual(rates.dropFirst(4), rates.dropFirst(4).sorted(by: >)[...], "non-increasing after the warm-up")
    }

    /// The schedule changes what training computes, so a checkpoint records it; under a cosine
    /// the epoch count does too, and a key the checkpoint has but the run lacks is named.
    func testScheduleAndCachePrecisionAreRecordedAndRefused() throws {
        var cosine = TrainConfig()
        cosine.train.schedule = .cosine
        cosine.train.warmupSteps = 10
        let manifest = try DatasetManifest(train: [], validation: [])
        let then = RunIdentity(config: cosine, samSHA256: "s", manifest: manifest)
        var constant = TrainConfig()
        constant.output.cachePrecision = .float32
        let diffs = then.differences(from: RunIdentity(config: constant, samSHA256: "s", manifest: manifest))
        XCTAssertTrue(diffs.contains("train.schedule: cosine in the checkpoint, absent now"), "\(diffs)")
        XCTAssertTrue(diffs.contains("train.warmup_steps: 10 in the checkpoint, absent now"), "\(diffs)")
        XCTAssertTrue(diffs.contains("output.cache_precision: float16 in the checkpoint, absent now"), "\(diffs)")
        var longer = cosine
        longer.train.epochs += 5
        XCTAssertEqual(then.differences(from: RunIdentity(config: longer, samSHA256: "s", manifest: manifest)),
                       ["train.epochs: 20 in the checkpoint, 25 now"])
        var plain = TrainConfig(), plainLonger = TrainConfig()
        plainLonger.train.epochs += 5
        plain.output.dir = "elsewhere"
        XCTAssertEqual(RunIdentity(config: plain, samSHA256: "s", manifest: manifest)
            .differences(from: RunIdentity(config: plainLonger, samSHA256: "s", manifest: manifest)), [],
                       "with a constant rate the epoch count may change on resume")
    }
}
