import Foundation
import Network
import TestSupport
@testable import Training
import XCTest

/// `eval --g` without a checkpoint: the config comes from the file's metadata, or the variant
/// from the tensor shapes of a file without it (torch.save's).
final class ImportedGeneratorTests: XCTestCase {
    func testConfigFromMetadataOrShapes() throws {
        let dir = try InteropSupport.tempDir()
        let entries = GeneratorStateDict.entries(InteropSupport.seededGenerator(), batchesTracked: 0)
        let tagged = dir + "/tagged.pth"
        try InteropSupport.write(try TorchStateDictWriter.encode(entries, metadata: InteropMetadata(
            module: "ModelEmb", hardnetVariant: "hardnet39ds", sam: "lite_medsam", lossActivation: "minmax").pairs), tagged)
        var cfg = try ImportedGenerator.config(from: StateDictFiles.open(tagged), path: tagged, context: TestContext.standard)
        XCTAssertEqual(cfg.generator.backbone, "hardnet39ds")
        XCTAssertEqual(cfg.loss.activation, .minMax)
        XCTAssertEqual(cfg.model.sam, .liteMedSAM)

        let bare = dir + "/bare.safetensors"
        try InteropSupport.write(try SafetensorsWriter.encode(entries), bare)
        cfg = try ImportedGenerator.config(from: StateDictFiles.open(bare), path: bare, context: TestContext.standard)
        XCTAssertEqual(cfg.generator.backbone, "hardnet39ds", "recognised by its shapes")
        XCTAssertEqual(cfg.loss.activation, .sigmoid)
        let detected = GeneratorStateDict.detectVariant(try StateDictFiles.open(try InteropSupport.fixture("torch_g_hardnet39ds.pth")),
                                                        context: TestContext.standard)
        XCTAssertEqual(detected?.backbone, .hardnet39DS)
        XCTAssertEqual(detected?.input, .image)
    }
}
