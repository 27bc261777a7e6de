import Foundation
import TestSupport
import XCTest
@testable import Network

/// g's MobileNetV2 backbone (features.0 … features.13) with torchvision's ImageNet weights
/// (weights/mobilenet_v2-b0353104.pth, from Launch/fetch-weights.sh; skipped when absent)
/// against PyTorch float64 (Tools/reference/fixtures_mobilenet_v2.py →
/// Fixtures/mobilenet_v2_parity.json): the loaded values, the eval-mode stages, and in train
/// mode the stages, the gradients of one parameter of every layer kind for
/// L = Σ_s Σ stage_s ⊙ R_s, and the running statistics after that one forward.
/// Run with each convolution engine (oneDNN where it loads).
///
/// Error model. Swift runs float32, the reference float64 from the same float32 weights,
/// image and R_s. Each layer's sums of K products round with relative error ~√K·2⁻²⁴
/// (K ≤ 576, the projections of the 96-channel blocks: ≈ 1.4e-6), and the ~40 conv/BN layers
/// to features.13 add up to 40 × 1.4e-6 ≈ 6e-5 if every layer's error lined up (a random walk
/// gives √40× ≈ 1e-5). Train-mode BatchNorm divides by a batch standard deviation taken over
/// only 2 images (32 values per channel at stride 16), which amplifies the error of a channel
/// whose spread is small against its mean; backward runs the depth twice. Bounds: 1e-4 for the
/// stages and running statistics, 2e-4 for the gradients, max|Δ|/max|ref| per tensor. PyTorch's
/// own float32 run measures (meta.torch_f32_rel_err) at most 2.4e-6 on the stages
/// (train.x16), 4.1e-6 on the gradients (features.1.conv.0.0.weight) and 1.3e-7 on the running
/// statistics: BatchNorm on these real weights and this image is well conditioned.
///
/// ReLU6's kinks. Its gradient jumps at 0 and 6, so an input closer to a kink than float32's
/// error passes (or stops) its element's gradient in float32 where float64 does the opposite;
/// in train mode BatchNorm then spreads that one element over its whole channel. With the first
/// image tried, a features.4 expansion input 3.7e-7 below 0 (float32's error there: ~1e-6) went
/// positive on the oneDNN engine and moved every gradient below it by 4e-3 to 5e-2 (exactly the
/// change of flipping that mask element in float64; the reference engine happened to agree with
/// float64). So the fixture's image is a seed whose train-mode ReLU6 inputs all keep clear of the
/// kinks by more than PyTorch's own float32 error in their layer (meta.relu6_margin: 1.85× at the
/// closest, features.4.conv.1); a future engine that rounds differently may still need another
/// seed, and gradients off by ~1e-2 below one block with the stages right are this, not a bug.
///
/// Measured on the 2-core AMD EPYC machine (reference engine / oneDNN): eval stages 8.5e-7 /
/// 8.0e-7, train stages 2.9e-6 / 3.3e-6 (x16), running statistics 1.4e-7 / 1.4e-7, gradients
/// 5.9e-6 / 5.9e-6 (features.13.conv.1.1.weight): the bounds leave 30× room or more.
final class MobileNetV2ParityTests: XCTestCase {

    /// g with the MobileNetV2 backbone and the ImageNet weights loaded, checked value by value
    /// against the file and against PyTorch's sums of it.
    private func loadedGenerator(_ fx: Fixture, context: ExecutionContext) throws -> PromptGenerator {
        let path = try TestPaths.requireMobileNetV2()   // weights/mobilenet_v2-b0353104.pth, or XCTSkip
        XCTAssertEqual(URL(fileURLWithPath: path).lastPathComponent, fx.meta["weights_file"] as? String)
        var rng = SeededRNG(seed: 0)
        let g = PromptGenerator(backbone: .mobileNetV2, context: context, rng: &rng)
        let ckpt = try TorchCheckpoint(path: path)
        XCTAssertEqual(ckpt.keys.count, fx.int("file_tensors"), "the file is torchvision's mobilenet_v2-b0353104.pth")
        let assigned = try g.load(ckpt, layout: .imagenetBackbone)

        // Exactly the file's features.0–13 tensors (num_batches_tracked aside) fill g's backbone.
        let keys = fx.meta["backbone_keys"] as! [String], sums = fx.meta["sums"] as! [String: NSNumber]
        XCTAssertEqual(assigned, keys.count)
        var ours: [String: [Float]] = [:]
        for p in g.store.parameters where p.name.hasPrefix("backbone.") { ours[p.name] = g.store.tensor(p).data }
        for b in g.buffers.named where b.name.hasPrefix("backbone.") { ours[b.name] = b.values }
        XCTAssertEqual(Set(ours.keys), Set(keys.map { "backbone." + $0 }))
        for key in keys {
            let file = try ckpt.tensor(key), mine = ours["backbone." + key] ?? []
            XCTAssertTrue(mine == file.data, "backbone.\(key) is not the file's \(key)")
            if let p = g.store["backbone." + key] { XCTAssertEqual(p.shape, file.shape, key) }
            // PyTorch's sums guard against the reader and the loader agreeing on a wrong value.
            let sum = mine.reduce(0.0) { $0 + Double($1) }, abs = mine.reduce(0.0) { $0 + Double(Swift.abs($1)) }
            XCTAssertEqual(sum, sums[key]?.doubleValue ?? .nan, accuracy: 1e-10 * abs + 1e-30, key)
        }
        return g
    }

    /// max|Δ|/max|ref| of `ours` against the fixture's `key`, which may hold only the first rows
    /// (along dim 0) of the whole tensor (meta.full_shapes); the same rows of `ours` are compared.
    private func relativeError(_ fx: Fixture, _ key: String, _ ours: Tensor,
                               file: StaticString = #filePath, line: UInt = #line) -> Float {
        let full = (fx.meta["full_shapes"] as! [String: Any])[key] as! [NSNumber]
        XCTAssertEqual(ours.shape, full.map(\.intValue), "shape of \(key)", file: file, line: line)
        let ref = fx[key]
        guard ours.shape.count == ref.shape.count, ours.shape.dropFirst() == ref.shape.dropFirst(),
              (ref.shape.first ?? 0) <= (ours.shape.first ?? 0) else {
            XCTFail("\(key): stored \(ref.shape) is not a row prefix of \(ours.shape)", file: file, line: line)
            return .infinity
        }
        return maxRelativeError(Tensor(shape: ref.shape, data: Array(ours.data.prefix(ref.count))), ref)
    }

    /// Prints the error beside PyTorch float32's own (meta.torch_f32_rel_err) and checks the bound.
    @discardableResult
    private func check(_ fx: Fixture, _ key: String, _ ours: Tensor, below bound: Float, _ engine: String,
                       line: UInt = #line) -> Float {
        let e = relativeError(fx, key, ours, line: line)
        let torch = (fx.meta["torch_f32_rel_err"] as! [String: NSNumber])[key]?.floatValue ?? .nan
        print("mobilenet_v2 \(key) (\(engine)): max|Δ|/max|ref| \(e) (PyTorch float32: \(torch))")
        XCTAssertLessThan(e, bound, "\(key) (\(engine))", line: line)
        return e
    }

    private static let stageNames = ["x4", "x8", "x16"]

    func testEvalStagesMatchPyTorch() throws {
        let fx = try Fixture("mobilenet_v2_parity")
        for context in TestContexts.available {
            let engine = context.convolution.engineName
            let g = try loadedGenerator(fx, context: context)
            let (stages, _) = try g.backboneForward(fx["input"], training: false)
            XCTAssertEqual(stages.count, 3)
            for (name, s) in zip(Self.stageNames, stages) { check(fx, "eval." + name, s, below: 1e-4, engine) }
        }
    }

    func testTrainStagesGradientsAndRunningStatsMatchPyTorch() throws {
        let fx = try Fixture("mobilenet_v2_parity")
        for context in TestContexts.available {
            let engine = context.convolution.engineName
            let g = try loadedGenerator(fx, context: context)
            g.store.zeroGrads()
            let (stages, cache) = try g.backboneForward(fx["input"], training: true)
            XCTAssertEqual(stages.count, 3)
            for (name, s) in zip(Self.stageNames, stages) { check(fx, "train." + name, s, below: 1e-4, engine) }

            // Running statistics after this one train-mode forward (momentum 0.1, unbiased variance).
            for stat in ["running_mean", "running_var"] {
                let key = "features.13.conv.3." + stat
                guard let values = g.buffers["backbone." + key] else { XCTFail("no buffer backbone.\(key)"); continue }
                check(fx, "train." + key, Tensor(shape: [values.count], data: values), below: 1e-4, engine)
            }

            // dL/dθ for L = Σ_s Σ stage_s ⊙ R_s.
            try g.backboneBackward([fx["train.r4"], fx["train.r8"], fx["train.r16"]], cache)
            let gradKeys = fx.tensors.keys.filter { $0.hasPrefix("grad.") }.sorted()
            XCTAssertEqual(gradKeys.count, 10)
            var worst: (Float, String) = (0, "")
            for key in gradKeys {
                let name = "backbone." + key.dropFirst("grad.".count)
                guard let p = g.store[name] else { XCTFail("no parameter \(name)"); continue }
                let e = check(fx, key, g.store.gradTensor(p), below: 2e-4, engine)
                if e > worst.0 { worst = (e, key) }
            }
            print("mobilenet_v2 train gradients (\(engine)): worst \(worst.0) (\(worst.1))")
        }
    }
}
