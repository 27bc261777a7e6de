import Foundation
import XCTest
@testable import Training

/// The config's `inference:` section: decoded, checked, written back, and never part of a
/// checkpoint's run identity.
final class InferenceConfigTests: XCTestCase {
    func testDefaultsAndValues() throws {
        XCTAssertEqual(try TrainConfig.parse("").inference, InferenceConfig())
        XCTAssertFalse(InferenceConfig().selfPrompt)
        XCTAssertEqual(InferenceConfig().selfPromptDense, .noMask)
        XCTAssertEqual(InferenceConfig().selfPromptPadding, 4)
        let c = try TrainConfig.parse("inference:\n  self_prompt: true\n  self_prompt_dense: g\n  self_prompt_padding: 9\n")
        XCTAssertTrue(c.inference.selfPrompt)
        XCTAssertEqual(c.inference.selfPromptDense, .g)
        XCTAssertEqual(c.inference.selfPromptPadding, 9)
        XCTAssertEqual(try TrainConfig.parse("inference: {self_prompt_dense: none}").inference.selfPromptDense, .noMask)
        XCTAssertEqual(try TrainConfig.parse(try c.yaml()), c, "written back and read again")
        XCTAssertEqual(try TrainConfig.parse(try c.resolvedYAML()), c)
        XCTAssertEqual(try TrainConfig().resolvedValue("inference.self_prompt_dense"), "none")
    }

    func testUnknownKeysAndBadValuesNameTheKey() {
        XCTAssertThrowsError(try TrainConfig.parse("inference: {self_promt: true}")) {
            let m = "\($0)"
            XCTAssertTrue(m.contains("unknown key 'inference.self_promt'") && m.contains("did you mean 'self_prompt'?"), m)
        }
        XCTAssertThrowsError(try TrainConfig.parse("inferenc: {self_prompt: true}")) {
            XCTAssertTrue("\($0)".contains("did you mean 'inference'?"), "\($0)")
        }
        XCTAssertThrowsError(try TrainConfig.parse("inference: {self_prompt_dense: box}")) {
            XCTAssertTrue("\($0)".contains("self_prompt_dense"), "\($0)")
        }
        XCTAssertThrowsError(try TrainConfig.parse("inference: {self_prompt_padding: -1}", path: "c.yaml")) {
            XCTAssertEqual("\($0)", "c.yaml: inference.self_prompt_padding must be from 0 to 256 (pixels in SAM's 256-pixel frame), got -1")
        }
        XCTAssertNoThrow(try TrainConfig.parse("inference: {self_prompt_padding: 0}"))
    }

    /// Inference keys change no training: a checkpoint's identity (the keys `--resume` compares)
    /// is the same with any of them, and the same as a config without the section.
    func testInferenceKeysAreNotPartOfTheRunIdentity() throws {
        let plain = try TrainConfig.parse("generator: {backbone: hardnet39ds}\n")
        let with = try TrainConfig.parse("generator: {backbone: hardnet39ds}\ninference: {self_prompt: true, self_prompt_dense: g, self_prompt_padding: 12}\n")
        XCTAssertNotEqual(plain, with)
        XCTAssertEqual(RunIdentity.settings(plain), RunIdentity.settings(with))
        XCTAssertFalse(RunIdentity.settings(with).contains { $0.hasPrefix("inference.") })
        let manifest = try DatasetManifest(train: [], validation: [])
        let a = RunIdentity(config: plain, samSHA256: "x", manifest: manifest), b = RunIdentity(config: with, samSHA256: "x", manifest: manifest)
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        XCTAssertEqual(a.differences(from: b), [])
    }

    func testFlagsOverrideTheSection() {
        var c = InferenceConfig()
        c.selfPrompt = true
        c.selfPromptPadding = 2
        XCTAssertEqual(c.overridden(selfPrompt: nil), c, "no flag: the config stands")
        XCTAssertFalse(c.overridden(selfPrompt: false).selfPrompt)
        XCTAssertEqual(c.overridden(selfPrompt: nil, dense: .g, padding: 6).selfPromptDense, .g)
        XCTAssertEqual(c.overridden(selfPrompt: nil, dense: .g, padding: 6).selfPromptPadding, 6)
        XCTAssertTrue(InferenceConfig().overridden(selfPrompt: true).selfPrompt)
    }
}
