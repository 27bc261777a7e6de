import Foundation
import XCTest
@testable import Network

/// SAM's ViT image encoder against segment_anything's ImageEncoderViT
/// (Tools/reference/fixtures_vit.py: a reduced random encoder, 128² input, window 3 over an
/// 8×8 token grid so windows are zero-padded, global blocks 1 and 3, random relative
/// positions). Metric: max |ours − torch| / max |torch|, required ≤ 1e-4.
final class ViTParityTests: XCTestCase {
    static let tiny = ViTConfig(imageSize: 128, patchSize: 16, embedDim: 48, depth: 4, heads: 4,
                                globalAttnIndexes: [1, 3], windowSize: 3, mlpRatio: 4, outChans: 32)
    let tol: Float = 1e-4

    static var checkpointPath: String {
        Bundle.module.url(forResource: "vit_tiny", withExtension: "pth", subdirectory: "Fixtures")?.path ?? "vit_tiny.pth"
    }

    func encoder(_ source: TensorSource) throws -> ImageEncoderViT {
        let bag = WeightBag(source, origin: "vit_tiny.pth", only: { $0.hasPrefix("image_encoder.") })
        let enc = ImageEncoderViT(bag, config: Self.tiny, context: TestContexts.standard)
        try bag.finish()
        return enc
    }

    func testEncoderMatchesPyTorch() throws {
        let enc = try encoder(try TorchCheckpoint(path: Self.checkpointPath))
        let fx = try BinaryFixture("vit_tiny")
        let image = Elementwise.scale(analyticImage(2, 3, 128, 128), 2)
        var errors: [String: Float] = [:]
        errors["tokens_embed"] = fx.relativeError("tokens_embed", try enc.embed(image))
        for i in 0..<4 {
            errors["tokens_block\(i)"] = fx.relativeError("tokens_block\(i)", try enc.tokens(image, through: i + 1))
        }
        errors["embedding"] = fx.relativeError("embedding", try enc(image))
        for (k, e) in errors.sorted(by: { $0.key < $1.key }) {
            print("ViT parity \(k): relative error \(e)")
            XCTAssertLessThan(e, tol, k)
        }
    }

    func testRelativePositionTableAndInterpolation() throws {
        let fx = try BinaryFixture("vit_tiny")
        let e = fx.entries["relpos_table"]!
        let table = Tensor(shape: e.shape, data: e.values)
        for (key, q, k) in [("relpos_5_5", 5, 5), ("relpos_4_6", 4, 6), ("relpos_4_4", 4, 4)] {
            let err = fx.relativeError(key, RelativePosition.table(q: q, k: k, table))
            print("ViT parity \(key): relative error \(err)")
            XCTAssertLessThan(err, 1e-6, key)
        }
    }

    func testMissingKeyIsReportedByName() throws {
        let ckpt = try TorchCheckpoint(path: Self.checkpointPath)
        var tensors: [String: Tensor] = [:]
        for k in ckpt.keys { tensors[k] = try ckpt.tensor(k) }
        XCTAssertNoThrow(try encoder(InMemoryTensors(tensors)))
        tensors.removeValue(forKey: "image_encoder.blocks.2.attn.rel_pos_w")
        tensors["image_encoder.blocks.0.mlp.lin1.bias"] = Tensor(zeros: [191])
        XCTAssertThrowsError(try encoder(InMemoryTensors(tensors))) { err in
            let s = "\(err)"
            XCTAssertTrue(s.contains("missing image_encoder.blocks.2.attn.rel_pos_w [5, 12]"), s)
            XCTAssertTrue(s.contains("wrong shape for image_encoder.blocks.0.mlp.lin1.bias"), s)
            XCTAssertTrue(s.hasPrefix("vit_tiny.pth"), s)
        }
    }

    /// SAM.build(.vitB) takes exactly segment_anything's build_sam_vit_b state dict (names and
    /// shapes in Fixtures/vit_b_keys.json, written by fixtures_vit.py), and names a missing key.
    /// The tensors are zeros made on demand: each build holds ~0.4 GB briefly.
    func testVitBBuilderTakesTheOfficialStateDict() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "vit_b_keys", withExtension: "json", subdirectory: "Fixtures"))
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [Int]])
        XCTAssertEqual(obj.count, 314)
        var source = ZerosSource(shapes: obj)
        let sam = try SAM.build(.vitB, from: source, origin: "vit_b_zeros.pth", context: TestContexts.reference)
        guard case .vit(let enc) = sam.imageEncoder else { return XCTFail("vit_b must build a ViT encoder") }
        XCTAssertEqual(enc.config, .vitB)
        XCTAssertEqual(enc.blocks.map(\.window), [14, 14, 0, 14, 14, 0, 14, 14, 0, 14, 14, 0])
        XCTAssertEqual(sam.densePE.shape, [1, 256, 64, 64])

        source.shapes.removeValue(forKey: "image_encoder.blocks.5.attn.rel_pos_h")
        XCTAssertThrowsError(try SAM.build(.vitB, from: source, origin: "vit_b_zeros.pth", context: TestContexts.reference)) { err in
            let s = "\(err)"
            XCTAssertTrue(s.contains("missing image_encoder.blocks.5.attn.rel_pos_h [127, 64]"), s)   // global: 2·64 − 1
            XCTAssertTrue(s.contains("1 state-dict problem"), s)
        }
    }
}

/// A state dict known by names and shapes only; every tensor loads as zeros.
struct ZerosSource: TensorSource {
    var shapes: [String: [Int]]
    var tensorNames: [String] { Array(shapes.keys) }
    func shapeOf(_ name: String) -> [Int]? { shapes[name] }
    func load(_ name: String) throws -> Tensor { Tensor(zeros: shapes[name]!) }
}
