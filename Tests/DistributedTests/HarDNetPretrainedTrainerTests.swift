import Foundation
import TestSupport
import Training
import XCTest
@testable import Distributed
@testable import Network

/// The Trainer's `generator.pretrained` errors: checked before SAM is loaded (the SAM
/// checkpoint here does not exist, so a later check would fail on SAM instead), naming the
/// setting, the file and the backbone. Loading itself is covered by NetworkTests'
/// HarDNetPretrainedTests; a real-size ImageNet HarDNet is too large to commit.
final class HarDNetPretrainedTrainerTests: XCTestCase {
    /// NetworkTests' fixture: a tiny HarDNet, which a hardnet39ds backbone must refuse.
    static let tinyFixture = TestPaths.packageRoot + "/Tests/NetworkTests/Fixtures/hardnet_tiny_imagenet.pth"

    private func trainerError(pretrained: String) -> String? {
        var c = TrainConfig()
        c.model.checkpoint = "/nonexistent/sam.pth"
        c.generator.backbone = "hardnet39ds"
        c.generator.pretrained = pretrained
        do {
            _ = try Trainer(config: c, comm: SingleProcessCommunicator(), context: TestContext.standard, print: { _ in })
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testMismatchedFileNamesSettingFileAndBackbone() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.tinyFixture), Self.tinyFixture)
        let msg = try XCTUnwrap(trainerError(pretrained: Self.tinyFixture))
        for part in ["generator.pretrained", "hardnet39ds", Self.tinyFixture, "does not match", "base.0.conv.weight"] {
            XCTAssertTrue(msg.contains(part), "“\(msg.prefix(300))…” should contain \(part)")
        }
    }

    func testMissingFileNamesSettingAndFile() throws {
        let path = "/nonexistent/hardnet39ds.pth"
        let msg = try XCTUnwrap(trainerError(pretrained: path))
        for part in ["generator.pretrained", path, "cannot open"] {
            XCTAssertTrue(msg.contains(part), "“\(msg)” should contain \(part)")
        }
    }
}
