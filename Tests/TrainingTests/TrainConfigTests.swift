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

    func testYamlRoundTrip() throws {
        var c = TrainConfig()
        c.train.epochs = 7
        c.data.test = ["a", "b"]
        XCTAssertEqual(try TrainConfig.parse(try c.yaml()), c)
    }
}
