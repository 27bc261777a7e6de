import Foundation
import TestSupport
import XCTest
@testable import Network

/// LiteMedSAM against PyTorch (Tools/reference/fixtures_sam.py, real weights, analytic
/// inputs). Metric: max |ours − torch| / max |torch| over each tensor (or its stored
/// sample), required ≤ 1e-4. Skipped when weights/lite_medsam.pth is absent
/// (Launch/fetch-weights.sh puts it there).
final class LiteMedSAMParityTests: XCTestCase {
    static var weightsPath: String { TestPaths.liteMedSAMWeights }

    func model() throws -> SAM { try TestContexts.liteMedSAM() }

    func testEncoderPromptEncoderAndDecoder() throws {
        let sam = try model()
        let fx = try BinaryFixture("lite_medsam")
        let tol: Float = 1e-4
        let emb = try sam.imageEncoder(analyticImage(1, 3, 256, 256))
        XCTAssertLessThan(fx.relativeError("embedding", emb), tol)
        XCTAssertLessThan(fx.relativeError("dense_pe", sam.densePE), tol)

        let box = Tensor(shape: [1, 4], data: [40, 60, 180, 200])
        let (sparseBox, denseNone) = try sam.promptEncoder(boxes: box)
        XCTAssertLessThan(fx.relativeError("sparse_box", sparseBox), tol)
        XCTAssertLessThan(fx.relativeError("dense_none", denseNone), tol)
        let (sparsePts, _) = try sam.promptEncoder(points: (Tensor(shape: [1, 2, 2], data: [100, 120, 30, 40]), [[1, 0]]))
        XCTAssertLessThan(fx.relativeError("sparse_points", sparsePts), tol)
        var maskIn = analyticImage(1, 1, 256, 256, phase: 1)
        maskIn = Elementwise.scale(maskIn, 4)
        XCTAssertLessThan(fx.relativeError("dense_mask", try sam.promptEncoder(masks: maskIn).1), tol)

        let single = try sam.maskDecoder.forward(imageEmbedding: emb, imagePE: sam.densePE, sparse: sparseBox,
                                             dense: denseNone, multimaskOutput: false).0
        XCTAssertLessThan(fx.relativeError("lowres_single", single.masks), tol)
        XCTAssertLessThan(fx.relativeError("iou_single", single.iou), tol)
        let multi = try sam.maskDecoder.forward(imageEmbedding: emb, imagePE: sam.densePE, sparse: sparseBox,
                                            dense: denseNone, multimaskOutput: true).0
        XCTAssertLessThan(fx.relativeError("lowres_multi", multi.masks), tol)
        XCTAssertLessThan(fx.relativeError("iou_multi", multi.iou), tol)

        // AutoSAM's path: batch 2, empty sparse prompt, dense = Z; BCE+Dice and dLoss/dZ.
        let emb2 = Shape.concat([emb, flipLastAxis(emb)], axis: 0)
        let z = Elementwise.scale(analyticImage(2, 256, 64, 64, phase: 2), 0.5)
        let (out, cache) = try sam.maskDecoder.forward(imageEmbedding: emb2, imagePE: sam.densePE,
                                                   sparse: Tensor(zeros: [1, 0, 256]), dense: z, multimaskOutput: false)
        XCTAssertLessThan(fx.relativeError("lowres_z", out.masks), tol)
        XCTAssertLessThan(fx.relativeError("iou_z", out.iou), tol)
        let gtRaw = analyticImage(2, 1, 256, 256, phase: 3)
        let gt = Tensor(shape: gtRaw.shape, data: gtRaw.data.map { $0 > 0.3 ? 1 : 0 })
        let loss = SegmentationLoss.bceDice(logits: out.masks, target: gt)
        XCTAssertEqual(Float(loss.loss), fx.scalar("loss_z"), accuracy: 1e-5 * abs(fx.scalar("loss_z")))
        let dz = try sam.maskDecoder.backwardDense(dMasks: loss.gradient, cache)
        XCTAssertLessThan(fx.relativeError("grad_z", dz), tol)
    }

    func testMalformedCheckpointNamesEveryProblem() throws {
        _ = try model()
        // Drop one key, rename another, change a shape: the error lists all three.
        let ckpt = try TorchCheckpoint(path: Self.weightsPath)
        var tensors: [String: Tensor] = [:]
        for k in ckpt.keys where !k.hasSuffix("num_batches_tracked") { tensors[k] = try ckpt.tensor(k) }
        tensors.removeValue(forKey: "mask_decoder.iou_token.weight")
        tensors["mask_decoder.extra.weight"] = Tensor(zeros: [3])
        tensors["prompt_encoder.no_mask_embed.weight"] = Tensor(zeros: [1, 255])
        XCTAssertThrowsError(try SAM.build(.liteMedSAM, from: InMemoryTensors(tensors), origin: "edited.pth",
                                           context: TestContexts.standard)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("missing mask_decoder.iou_token.weight"), s)
            XCTAssertTrue(s.contains("unexpected mask_decoder.extra.weight"), s)
            XCTAssertTrue(s.contains("wrong shape for prompt_encoder.no_mask_embed.weight"), s)
            XCTAssertTrue(s.hasPrefix("edited.pth"), s)
        }
    }
}

func flipLastAxis(_ x: Tensor) -> Tensor {
    let w = x.shape.last!
    var out = x
    for r in 0..<(x.count / w) { for j in 0..<w { out.data[r * w + j] = x.data[r * w + w - 1 - j] } }
    return out
}
