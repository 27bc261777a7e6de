import Foundation
import XCTest
@testable import Network

/// AutoSAM's full training step against PyTorch (Tools/reference/fixtures_train_step.py):
/// the real LiteMedSAM (frozen) encoder → g (train mode) → mask decoder (empty sparse
/// prompt, dense = g(I)) → BCE+Dice → backward → Adam(lr 3e-4, wd 1e-5), three steps, from
/// the same hashed weights (PromptGeneratorParityTests.fill) and analytic inputs. g is a
/// small custom HarDNet ("tiny", see the script) so that the test runs in seconds.
///
/// The reference is PyTorch in float64, cast; the fixture also records how far PyTorch's own
/// float32 run is from it. Metric for parameters: max |ours − ref| / max |ref| per tensor
/// over the stored sample. What float32 can and cannot match here (numbers in the script's
/// output and the meta):
/// - Loss of step 1: ≤ 1e-5 relative (PyTorch float32: 7e-8).
/// - Parameters after step 1: Adam's first update is lr·sign(dL/dθ + wd·θ) (|m̂|/√v̂ = 1),
///   so an element whose gradient is within float32 rounding of 0 moves by ±lr in either
///   implementation (a ±6e-4 jump, 3e-2 of a 256-channel conv's weight scale). Elements whose
///   step-1 gradient is at least `signMargin` (1e-2) of their tensor's largest are compared
///   at ≤ 1e-4 (~6% of the sampled elements are left out, counted and printed); at 1e-3
///   PyTorch's own float32 run still has a sign jump (1.7e-2), at 1e-2 it is 5e-7 off. The conv biases that feed a train-mode
///   BatchNorm have exact loss gradient 0, leaving wd·θ ≈ 5e-7 against float32 residue of
///   the same order, and are left out of this comparison.
/// - Losses of steps 2, 3, every parameter after step 3, running statistics: the step-1
///   sign jumps move the network, and the next steps amplify that (PyTorch float32 is 2e-4 /
///   4e-3 off in the loss and 3e-2 in the worst parameter tensor). The 1e-5 / 1e-4 bars
///   cannot be met by any float32 implementation; these are held to 3× PyTorch float32's own
///   deviation from float64 (stated, not silent), a parameter tensor also to PyTorch float32's
///   largest drift over all of g (4.3·lr), since one sign jump can land in any tensor.
final class TrainStepParityTests: XCTestCase {
    static let tiny = HarDNetVariant(
        name: "tiny", firstChannels: (16, 24), grmul: 1.7, depthwise: false,
        blocks: [.init(growth: 8, layers: 4, transition: 32, downsample: true),
                 .init(growth: 12, layers: 4, transition: 48, downsample: true),
                 .init(growth: 16, layers: 4, transition: 64, downsample: true)])
    static let signMargin: Float = 1e-2
    static let biasBeforeBN: Set = ["decoder.up1.conv2.bias", "decoder.up2.conv2.bias", "decoder.final.conv1.bias"]

    /// Run with each convolution engine (oneDNN where it loads, with Winograd where the CPU has it).
    func testThreeAdamStepsMatchPyTorch() throws {
        guard FileManager.default.fileExists(atPath: LiteMedSAMParityTests.weightsPath) else {
            throw XCTSkip("weights/lite_medsam.pth not present; run Launch/fetch-weights.sh")
        }
        for context in TestContexts.available {
            print("train-step parity with the \(context.convolution.engineName) engine:")
            try checkThreeSteps(context: context)
        }
    }

    func checkThreeSteps(context: ExecutionContext) throws {
        let fx = try BinaryFixture("train_step")
        let sam = try TestContexts.liteMedSAM(context)

        var rng = SeededRNG(seed: 0)
        let g = PromptGenerator(variant: Self.tiny, context: context, rng: &rng)
        XCTAssertEqual(g.store.parameters.map(\.name), fx.meta["g_param_names"] as! [String])
        XCTAssertEqual(g.store.count, (fx.meta["g_params"] as! NSNumber).intValue)
        PromptGeneratorParityTests.fill(g.store, g.buffers)
        let model = AutoSAM(sam: sam, generator: g)

        let x = analyticImage(2, 3, 256, 256)
        let gtRaw = analyticImage(2, 1, 256, 256, phase: 3)
        let gt = Tensor(shape: gtRaw.shape, data: gtRaw.data.map { $0 > 0.3 ? 1 : 0 })
        let emb = try sam.imageEncoder(x)
        var adam = Adam(parameterCount: g.store.count, lr: 3e-4, weightDecay: 1e-5)
        let torchLoss32 = (fx.meta["loss_torch_f32"] as! [NSNumber]).map(\.doubleValue)
        var lossErr: [Double] = []
        for step in 1...3 {
            g.store.zeroGrads()
            let r = try model.trainStep(images: x, embeddings: emb, targets: gt, weight: 1)
            let ref = Double(fx.scalar("loss\(step)"))
            lossErr.append(abs(r.loss - ref) / abs(ref))
            g.store.withMutableValues { adam.update(&$0, grads: g.store.grads) }
            if step == 1 { try checkAfterStepOne(g.store, fx) }
        }
        let torchLossErr = (0..<3).map { abs(torchLoss32[$0] - Double(fx.scalar("loss\($0 + 1)"))) / Double(fx.scalar("loss\($0 + 1)")) }
        print("train-step parity: loss relative error per step \(lossErr) (PyTorch float32: \(torchLossErr))")
        XCTAssertLessThan(lossErr[0], 1e-5, "loss of step 1")
        for s in 1..<3 {
            XCTAssertLessThan(lossErr[s], max(1e-5, 3 * torchLossErr[s]), "loss of step \(s + 1)")
        }

        // After step 3: every parameter, against 3× PyTorch float32's own error per tensor, or
        // PyTorch float32's largest drift from float64 over all of g, whichever is larger. An
        // element whose step-1 gradient is within float32 rounding of 0 takes Adam's ±lr first
        // step either way (see above), 2·lr off, and steps 2 and 3 carry it on and move the
        // rest of the network by fractions of lr; so any tensor may be a sign jump off, whatever
        // PyTorch's own run drew for that tensor. The fixture gives PyTorch's drift: its relative
        // error × max |ref| of the tensor (max over the stored sample, no larger than over the
        // whole tensor that PyTorch's error is taken over), largest 1.29e-3 = 4.3·lr
        // (backbone.base.3.layers.3.conv.weight); the BN-absorbed biases, whose only gradient is
        // wd·θ, are left out of that maximum. Measured on an Intel Xeon with AVX-512, reference
        // engine, against the 3× bound alone: with OpenBLAS's SkylakeX kernels (its default there)
        // backbone.base.3.layers.0.conv.weight is 8.64e-3 off, 1.02× its 8.46e-3, at an element
        // with step-1 margin 4.3e-4 that is 1.98·lr off (PyTorch float32 still jumps at margin
        // ≥ 1e-3, see above); with OPENBLAS_CORETYPE=Haswell or Zen, backbone.base.4.norm.bias is
        // 6.5× its bound (a jump at margin 2.7e-4, 2.01·lr off) and decoder.up1.conv1.bias 1.06×
        // (0.54·lr). Our largest drift is 2.5·lr (SkylakeX), 2.8·lr (Haswell) and 2.1·lr (oneDNN),
        // and the largest error / bound with the drift term 0.55, 0.49 and 0.50. The test passed
        // at 3× per tensor alone on the AMD EPYC machine it was written on (not re-measured).
        let torchParam = fx.meta["torch_f32_vs_f64_param_rel"] as! [String: NSNumber]
        var torchDrift: (Float, String) = (0, "")
        for p in g.store.parameters where !Self.biasBeforeBN.contains(p.name) {
            let d = torchParam[p.name]!.floatValue * fx.entries["param." + p.name]!.values.reduce(0) { max($0, abs($1)) }
            if d > torchDrift.0 { torchDrift = (d, p.name) }
        }
        let lr = (fx.meta["lr"] as! NSNumber).floatValue
        print("PyTorch float32's largest drift after step 3: \(torchDrift.0) = \(torchDrift.0 / lr)·lr (\(torchDrift.1))")
        var worst: (Float, String) = (0, ""), worstOverBound: (Float, String) = (0, "")
        for p in g.store.parameters {
            let e = fx.relativeError("param." + p.name, g.store.tensor(p))
            let scale = fx.entries["param." + p.name]!.values.reduce(Float(1e-12)) { max($0, abs($1)) }
            let bound = max(1e-4, 3 * torchParam[p.name]!.floatValue, torchDrift.0 / scale)
            if e > worst.0 { worst = (e, p.name) }
            if e / bound > worstOverBound.0 { worstOverBound = (e / bound, p.name) }
            XCTAssertLessThan(e, bound, "\(p.name) after step 3")
        }
        let torchWorst = fx.meta["torch_f32_vs_f64_worst_param"] as! [Any]
        // The same restricted to elements whose gradient was ≥ 1e-2 of their tensor's largest
        // at every step: PyTorch float32 is still ~4e-3 off there (step 2's gradients already
        // carry step 1's sign jumps), so this too is held to 3× PyTorch float32.
        let torchMargin3 = (fx.meta["torch_f32_vs_f64_step3_by_margin"] as! [String: [Any]])["0.01"]!
        let bound3 = 3 * (torchMargin3[0] as! NSNumber).floatValue
        var worst3: (Float, String) = (0, "")
        for p in g.store.parameters where !Self.biasBeforeBN.contains(p.name) {
            let e = maskedError(fx, "param." + p.name, "margin3." + p.name, g.store.tensor(p), margin: 1e-2).error
            if e > worst3.0 { worst3 = (e, p.name) }
        }
        print("after step 3, elements with gradient ≥ 1e-2 of the tensor's largest at every step: worst \(worst3.0) "
              + "(\(worst3.1); PyTorch float32 \(torchMargin3))")
        XCTAssertLessThan(worst3.0, bound3, worst3.1)
        var worstBuf: (Float, String) = (0, "")
        for b in g.buffers.named {
            let e = fx.relativeError("buffer." + b.name, Tensor(shape: [b.values.count], data: b.values))
            if e > worstBuf.0 { worstBuf = (e, b.name) }
        }
        let torchBuf = fx.meta["torch_f32_vs_f64_worst_buffer"] as! [Any]
        print("after step 3: worst parameter \(worst.0) (\(worst.1); PyTorch float32 worst \(torchWorst)), "
              + "largest error / bound \(worstOverBound.0) (\(worstOverBound.1)); "
              + "running stats \(worstBuf.0) (\(worstBuf.1); PyTorch float32 \(torchBuf))")
        XCTAssertLessThan(worstBuf.0, max(1e-4, 3 * (torchBuf[0] as! NSNumber).floatValue), worstBuf.1)
    }

    /// Parameters after Adam's first step, at the elements whose sign both sides must agree on.
    func checkAfterStepOne(_ store: ParameterStore, _ fx: BinaryFixture) throws {
        var worst: (Float, String) = (0, ""), skipped = 0, compared = 0
        for p in store.parameters where !Self.biasBeforeBN.contains(p.name) {
            let r = maskedError(fx, "param1." + p.name, "margin1." + p.name, store.tensor(p), margin: Self.signMargin)
            skipped += r.skipped
            compared += r.compared
            if r.error > worst.0 { worst = (r.error, p.name) }
        }
        print("after step 1: worst parameter \(worst.0) (\(worst.1)) over \(compared) sampled elements; "
              + "\(skipped) with step-1 gradient below \(Self.signMargin) of their tensor's largest left out")
        XCTAssertLessThan(worst.0, 1e-4, worst.1)
    }

    /// max |ours − ref| over the stored positions whose margin is ≥ `margin`, divided by
    /// max |ref| over all stored positions.
    func maskedError(_ fx: BinaryFixture, _ key: String, _ marginKey: String, _ ours: Tensor,
                     margin: Float) -> (error: Float, compared: Int, skipped: Int) {
        guard let ref = fx.entries[key], let m = fx.entries[marginKey] else {
            XCTFail("no fixture entry \(key) / \(marginKey)")
            return (.infinity, 0, 0)
        }
        XCTAssertEqual(ref.shape, ours.shape, key)
        var diff: Float = 0, scale: Float = 1e-12, compared = 0, skipped = 0
        for (j, r) in ref.values.enumerated() {
            scale = max(scale, abs(r))
            if m.values[j] < margin { skipped += 1; continue }
            compared += 1
            diff = max(diff, abs(ours.data[j * ref.stride] - r))
        }
        return (diff / scale, compared, skipped)
    }
}
