import XCTest
@testable import Network

/// Whole models on both convolution engines: g in eval mode, h and the LiteMedSAM encoder give the
/// same outputs to 1e-4 (max |onednn − reference| / max |reference|), and g's eval-mode gradients
/// too; g's train-mode output to 1e-3 and its train-mode gradients to `trainGradTol` (see
/// below): through HarDNet's stacked batch-statistics BatchNorms on a small batch, float32
/// summation order alone moves them far more than the convolutions' own differences (PyTorch
/// float32 vs float64: 6%); PromptGeneratorParityTests holds each engine's against PyTorch
/// float64 as well. Each engine is a context of its own, so both models live in one process.
final class EngineEquivalenceTests: XCTestCase {
    let tol: Float = 1e-4
    /// Train-mode gradients of g, all parameters as one vector, between engines. Measured
    /// (batch 2, 128², seed 11, on an AVX-512 CPU, so with Winograd): HarDNet-85 4.8e-2,
    /// HarDNet-39DS 8.0e-3; held at 1e-1, about 2× the worst.
    let trainGradTol: Float = 1e-1

    var reference: ExecutionContext { TestContexts.reference }
    var oneDNN: ExecutionContext!

    override func setUpWithError() throws {
        guard let c = TestContexts.oneDNN else { throw XCTSkip("libdnnl (libdnnl-dev) cannot be loaded on this machine") }
        oneDNN = c
    }

    /// `body` on each engine's context; results in engine order (reference, onednn).
    func both<T>(_ body: (ExecutionContext) throws -> T) rethrows -> (T, T) {
        (try body(reference), try body(oneDNN))
    }

    func testPromptGeneratorOutputsAndGradients() throws {
        for variant in [HarDNetVariant.hardnet85, .hardnet39DS] {
            for training in [true, false] {
                let (ref, dnn) = try both { context -> (Tensor, [Float]) in
                    var rng = SeededRNG(seed: 11)
                    let g = PromptGenerator(variant: variant, context: context, rng: &rng)
                    let side = training ? 128 : 64
                    let x = Tensor.uniform([2, 3, side, side], rng: &rng, lo: 0, hi: 1)
                    let (z, cache) = try g.forward(x, training: training)
                    try g.backward(Tensor.uniform(z.shape, rng: &rng, lo: -1, hi: 1), cache)
                    return (z, g.store.grads)
                }
                let msg = "\(variant.name), training \(training)"
                // Train mode: HarDNet-85's ~60 batch-statistics BatchNorms amplify float32 summation
                // order to ~2e-4 between engines, even with Winograd off (1.6e-4); each engine is
                // 1e-4 from PyTorch float64 in PromptGeneratorParityTests, held to 1e-3 there too.
                XCTAssertLessThanOrEqual(maxRelativeError(dnn.0, ref.0), training ? 1e-3 : tol, "\(msg) output")
                let gr = Tensor(shape: [ref.1.count], data: ref.1), gd = Tensor(shape: [dnn.1.count], data: dnn.1)
                let e = maxRelativeError(gd, gr)
                print("engines, g \(msg): output \(maxRelativeError(dnn.0, ref.0)), all gradients \(e)")
                XCTAssertLessThanOrEqual(e, training ? trainGradTol : tol, "\(msg) gradients")
            }
        }
    }

    /// Two g with the same seed on two contexts, reference and oneDNN, alive together and run
    /// interleaved (forward, forward, backward, backward, inference, a second step): each gives
    /// exactly what it gives alone, and the two agree to the engine tolerances above. Nothing
    /// of one engine's choice or state leaks into the other.
    func testTwoContextsSideBySide() throws {
        let variant = HarDNetVariant.hardnet39DS
        var rng = SeededRNG(seed: 21)
        let x = Tensor.uniform([2, 3, 64, 64], rng: &rng, lo: 0, hi: 1)
        let dOut = Tensor.uniform([2, 256, 64, 64], rng: &rng, lo: -1, hi: 1)
        func make(_ context: ExecutionContext) -> PromptGenerator {
            var rng = SeededRNG(seed: 22)
            return PromptGenerator(variant: variant, context: context, rng: &rng)
        }
        struct Run: Equatable { var outputs: [Tensor] = []; var grads: [[Float]] = []; var inferred: Tensor? }
        /// Two train steps' outputs and gradients, then the eval-mode inference.
        func alone(_ context: ExecutionContext) throws -> Run {
            let g = make(context)
            var r = Run()
            for _ in 0..<2 {
                let (z, c) = try g.forward(x, training: true)
                try g.backward(dOut, c)
                r.outputs.append(z); r.grads.append(g.store.grads)
                g.store.zeroGrads()
            }
            r.inferred = try g.infer(x)
            return r
        }
        // A fresh oneDNN backend for the side-by-side pair: no plan made by the solo run is reused.
        let dnnContext = ExecutionContext(convolution: try OneDNNConvBackend(winograd: ExecutionContext.environmentAllowsWinograd()))
        let soloRef = try alone(reference), soloDnn = try alone(dnnContext)

        let gr = make(reference), gd = make(ExecutionContext(
            convolution: try OneDNNConvBackend(winograd: ExecutionContext.environmentAllowsWinograd())))
        var pairRef = Run(), pairDnn = Run()
        for _ in 0..<2 {
            let (zr, cr) = try gr.forward(x, training: true)
            let (zd, cd) = try gd.forward(x, training: true)
            try gd.backward(dOut, cd)
            try gr.backward(dOut, cr)
            pairRef.outputs.append(zr); pairRef.grads.append(gr.store.grads)
            pairDnn.outputs.append(zd); pairDnn.grads.append(gd.store.grads)
            gr.store.zeroGrads(); gd.store.zeroGrads()
        }
        pairDnn.inferred = try gd.infer(x)
        pairRef.inferred = try gr.infer(x)

        XCTAssertTrue(pairRef == soloRef, "the reference g run beside a oneDNN g differs from its run alone")
        XCTAssertTrue(pairDnn == soloDnn, "the oneDNN g run beside a reference g differs from its run alone")
        for s in 0..<2 {
            XCTAssertLessThanOrEqual(maxRelativeError(pairDnn.outputs[s], pairRef.outputs[s]), 1e-3, "step \(s + 1) output")
            let e = maxRelativeError(Tensor(shape: [pairDnn.grads[s].count], data: pairDnn.grads[s]),
                                     Tensor(shape: [pairRef.grads[s].count], data: pairRef.grads[s]))
            XCTAssertLessThanOrEqual(e, trainGradTol, "step \(s + 1) gradients")
        }
        XCTAssertLessThanOrEqual(maxRelativeError(pairDnn.inferred!, pairRef.inferred!), tol, "inference")
    }

    /// g.infer (BatchNorm folded, activations fused) computes forward(training: false), on both
    /// engines, with running statistics away from their 0/1 start.
    func testFusedInferenceMatchesEvalForward() throws {
        for variant in [HarDNetVariant.hardnet85, .hardnet39DS] {
            let (ref, dnn) = try both { context -> (Tensor, Tensor) in
                var rng = SeededRNG(seed: 14)
                let g = PromptGenerator(variant: variant, context: context, rng: &rng)
                let x = Tensor.uniform([2, 3, 64, 64], rng: &rng, lo: 0, hi: 1)
                for _ in 0..<3 { _ = try g.forward(x, training: true) }   // moves the running statistics
                for p in g.store.parameters where p.shape.count == 1 {
                    try! g.store.set(p, Tensor.uniform(p.shape, rng: &rng, lo: 0.5, hi: 1.5))
                }
                return (try g.forward(x, training: false).0, try g.infer(x))
            }
            for (name, r) in [("reference", ref), ("onednn", dnn)] {
                let e = maxRelativeError(r.1, r.0)
                print("fused inference vs eval forward, \(variant.name), \(name): \(e)")
                XCTAssertLessThanOrEqual(e, tol, "\(variant.name) \(name)")
            }
            XCTAssertLessThanOrEqual(maxRelativeError(dnn.1, ref.1), tol, "\(variant.name) across engines")
        }
    }

    func testSurrogateDecoderOutput() throws {
        let (ref, dnn) = try both { context -> Tensor in
            var rng = SeededRNG(seed: 12)
            let h = SurrogateDecoder(context: context, rng: &rng)
            return try h.forward(Tensor.uniform([2, 256, 64, 64], rng: &rng, lo: -1, hi: 1)).0
        }
        XCTAssertLessThanOrEqual(maxRelativeError(dnn, ref), tol)
    }

    func testLiteMedSAMEncoderOutput() throws {
        var rng = SeededRNG(seed: 13)
        let x = Tensor.uniform([1, 3, 256, 256], rng: &rng, lo: -2, hi: 2)
        let (ref, dnn) = try both { try TestContexts.liteMedSAM($0).imageEncoder(x) }
        XCTAssertLessThanOrEqual(maxRelativeError(dnn, ref), tol)
    }
}
