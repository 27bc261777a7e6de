import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest

/// g against PyTorch's `ModelEmb` (Tools/reference/fixtures_interop.py, hardnet39ds, eval
/// mode, a fixed 1×3×64×64 input): a state dict torch.save wrote imports here and gives
/// torch's Z; Swift's export, loaded in torch with load_state_dict(strict=True), gave the Z
/// this g computes. Z is compared at every `z_stride`-th element.
final class InteropTorchParityTests: XCTestCase {
    private func zFixture() throws -> SafetensorsFile { try SafetensorsFile(path: InteropSupport.fixture("interop_z.safetensors")) }

    private func sampledZ(_ g: PromptGenerator, _ fx: SafetensorsFile) throws -> (eval: [Float], infer: [Float]) {
        let x = try fx.tensor("input")
        let stride = Int(fx.metadata["z_stride"]!)!
        let eval = try g.forward(x, training: false).0.data
        let infer = try g.infer(x).data
        let pick = { (z: [Float]) in Swift.stride(from: 0, to: z.count, by: stride).map { z[$0] } }
        return (pick(eval), pick(infer))
    }

    func testTorchSavedStateDictGivesTorchZ() throws {
        let fx = try zFixture()
        let path = try InteropSupport.fixture("torch_g_hardnet39ds.pth")
        let g = InteropSupport.seededGenerator(seed: 3)
        let r = try GeneratorImport.load(path, into: g, expecting: .init(variant: .hardnet39DS))
        XCTAssertNil(r.metadata, "torch.save wrote no autosam metadata")
        let want = try fx.tensor("z_torch_state_dict").data
        let (eval, infer) = try sampledZ(g, fx)
        let e1 = InteropSupport.maxRelative(eval, want), e2 = InteropSupport.maxRelative(infer, want)
        print(String(format: "torch-saved g → Swift: max rel Z difference %.2e (eval), %.2e (fused inference)", e1, e2))
        XCTAssertLessThan(e1, 1e-4)
        XCTAssertLessThan(e2, 1e-4)
    }

    func testSwiftExportLoadedInTorchGivesSwiftZ() throws {
        let fx = try zFixture()
        let g = InteropSupport.seededGenerator()
        // torch read exactly these bytes (the script recorded their hashes).
        for format in StateDictFormat.allCases {
            var h = SHA256()
            try InteropSupport.export(g, format).withUnsafeBytes { h.update($0) }
            XCTAssertEqual(SHA256.hex(h.finish()), fx.metadata["sha256_swift_\(format.rawValue)"], "\(format): export changed; rerun the script")
        }
        XCTAssertEqual(fx.metadata["strict_load"], "ok")
        for format in StateDictFormat.allCases {
            var h = SHA256()
            try InteropSupport.exportSurrogate(format).withUnsafeBytes { h.update($0) }
            XCTAssertEqual(SHA256.hex(h.finish()), fx.metadata["sha256_swift_h_\(format.rawValue)"], "h, \(format)")
        }
        XCTAssertEqual(fx.metadata["h_strict_load"], "ok", "ModelH.load_state_dict(strict=True)")
        XCTAssertEqual(fx.metadata["key_order_matches_state_dict"], "yes")
        let torchZ = try fx.tensor("z_torch_from_swift_export").data
        let (eval, _) = try sampledZ(g, fx)
        let e = InteropSupport.maxRelative(eval, torchZ)
        print(String(format: "Swift-exported g → torch: max rel Z difference %.2e", e))
        XCTAssertLessThan(e, 1e-4)
    }

    /// Writes Swift's export for the script: AUTOSAM_INTEROP_FIXTURE_DIR=<dir> swift test … --filter
    /// InteropTorchParityTests/testWriteSwiftExportForTorch, then fixtures_interop.py <dir>.
    func testWriteSwiftExportForTorch() throws {
        guard let dir = ProcessInfo.processInfo.environment["AUTOSAM_INTEROP_FIXTURE_DIR"] else {
            throw XCTSkip("set AUTOSAM_INTEROP_FIXTURE_DIR to write Swift's export for fixtures_interop.py")
        }
        let g = InteropSupport.seededGenerator()
        for format in StateDictFormat.allCases {
            try InteropSupport.write(try InteropSupport.export(g, format), dir + "/swift_g." + format.rawValue)
            try InteropSupport.write(try InteropSupport.exportSurrogate(format), dir + "/swift_h." + format.rawValue)
        }
    }
}
