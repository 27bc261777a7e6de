import Foundation
import XCTest
@testable import Network

/// g (HarDNet-85 ModelEmb) and h (ModelH) against PyTorch (Tools/reference/
/// fixtures_prompt_generator.py): parameter names and count, train-mode output, every
/// parameter's gradient (sampled), the updated running statistics, and the eval-mode output.
/// Weights are the closed-form fill that script documents, evaluated here the same way.
final class PromptGeneratorParityTests: XCTestCase {
    static func isNorm(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        let module = parts[parts.count - 2]
        return module.contains("norm") || module.hasPrefix("BN")
    }

    /// fixtures_prompt_generator.hashed: an integer hash of (tensor number, index) in [-1, 1).
    static func hashed(_ t: Int, _ n: Int) -> [Double] {
        (0..<n).map { i in
            var x = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(t + 1) &* 0xD1B5_4A32_D192_ED03
            x ^= x >> 31
            x = x &* 0xBF58_476D_1CE4_E5B9
            x ^= x >> 29
            return Double(x >> 11) * 0x1p-52 - 1
        }
    }

    static func fill(_ store: ParameterStore, _ buffers: BufferStore?) {
        for (t, p) in store.parameters.enumerated() {
            let u = hashed(t, p.count)
            let v: [Double]
            if p.shape.count == 4 {
                let a = 1 / Double(p.shape[1] * p.shape[2] * p.shape[3]).squareRoot()
                v = u.map { a * $0 }
            } else if isNorm(p.name) && p.name.hasSuffix("weight") {
                v = u.map { 1 + 0.2 * $0 }
            } else {
                v = u.map { (isNorm(p.name) ? 0.1 : 0.05) * $0 }
            }
            try! store.set(p, Tensor(shape: p.shape, data: v.map(Float.init)))
        }
        guard let buffers else { return }
        for (q, b) in buffers.named.enumerated() {
            let u = hashed(store.parameters.count + q, b.values.count)
            let mean = b.name.hasSuffix("running_mean")
            try! buffers.set(b.name, u.map { Float(mean ? 0.1 * $0 : 1 + 0.25 * ($0 + 1)) })
        }
    }

    static func upstream(_ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { Float(0.01 * cos(0.0123 * Double($0) + 0.3)) })
    }

    /// Run with each convolution engine (oneDNN where it loads, with Winograd where the CPU has it).
    func testHarDNet85PromptGeneratorMatchesPyTorch() throws {
        for context in TestContexts.available {
            try checkPromptGenerator(context: context)
        }
    }

    func checkPromptGenerator(context: ExecutionContext) throws {
        let engine = context.convolution.engineName
        let fx = try BinaryFixture("prompt_generator")
        var rng = SeededRNG(seed: 0)
        let g = PromptGenerator(variant: .hardnet85, context: context, rng: &rng)
        XCTAssertEqual(g.store.parameters.map(\.name), fx.meta["g_param_names"] as! [String])
        XCTAssertEqual(g.buffers.names, fx.meta["g_buffer_names"] as! [String])
        XCTAssertEqual(g.store.count, (fx.meta["g_params"] as! NSNumber).intValue)
        print("g parameters: \(g.store.count) (PyTorch, stride-16 backbone: \(fx.meta["g_params"]!); "
              + "authors' full ModelEmb incl. unused stride-32 stage and BN2: \(fx.meta["g_params_authors_full"]!))")
        Self.fill(g.store, g.buffers)

        let x = analyticImage(2, 3, 64, 64)
        let (out, cache) = try g.forward(x, training: true)
        let eOut = fx.relativeError("g.out_train", out)
        try g.backward(Self.upstream(out.shape), cache)
        // Train-mode gradients against PyTorch float64 (see the fixture script): no worse than
        // 2× PyTorch's own float32 error. Biases feeding a train-mode BatchNorm have exact
        // gradient 0 and are left out.
        let biasBeforeBN: Set = ["decoder.up1.conv2.bias", "decoder.up2.conv2.bias", "decoder.final.conv1.bias"]
        let trainBound = 2 * (fx.meta["train_grad_torch_f32_vs_f64"] as! NSNumber).floatValue
        let worstTrain = worstGradient(g.store, fx, "g.grad_train.", skipping: biasBeforeBN)
        var worstBuf: (Float, String) = (0, "")
        for b in g.buffers.named {
            let e = fx.relativeError("g.buffer." + b.name, Tensor(shape: [b.values.count], data: b.values))
            if e > worstBuf.0 { worstBuf = (e, b.name) }
        }
        // Eval mode starts from PyTorch's running statistics (stored whole), so the check measures
        // the eval-mode forward/backward alone: this deep net turns the ~5e-6 float32 differences of
        // the train step's statistics into ~1e-4 gradient differences. Reference: a float64 copy.
        try g.setRunningStats(g.buffers.named.map { ($0.name, fx.entries["g.buffer." + $0.name]!.values) })
        g.store.zeroGrads()
        let (outEval, cacheEval) = try g.forward(x, training: false)
        let eEval = fx.relativeError("g.out_eval", outEval)
        let eInfer = fx.relativeError("g.out_eval", try g.infer(x))   // BatchNorm folded, activations fused
        try g.backward(Self.upstream(outEval.shape), cacheEval)
        let worstEval = worstGradient(g.store, fx, "g.grad_eval.", skipping: [])
        print("g parity (\(engine) engine): train output \(eOut), running stats \(worstBuf.0) (\(worstBuf.1)), "
              + "train gradients vs float64 \(worstTrain.0) (\(worstTrain.1); PyTorch float32: \(trainBound / 2)), "
              + "eval output \(eEval) (fused inference \(eInfer)), eval gradients \(worstEval.0) (\(worstEval.1))")
        XCTAssertLessThan(eOut, 1e-3, "\(engine)")
        XCTAssertLessThan(worstBuf.0, 1e-4, worstBuf.1 + " (\(engine))")
        XCTAssertLessThan(worstTrain.0, trainBound, worstTrain.1 + " (\(engine))")
        XCTAssertLessThan(eEval, 1e-4, "\(engine)")
        XCTAssertLessThan(eInfer, 1e-4, "fused inference, \(engine)")
        XCTAssertLessThan(worstEval.0, 1e-4, worstEval.1 + " (\(engine))")
    }

    func worstGradient(_ store: ParameterStore, _ fx: BinaryFixture, _ key: String,
                       skipping: Set<String>) -> (Float, String) {
        var worst: (Float, String) = (0, "")
        for p in store.parameters where !skipping.contains(p.name) {
            let e = fx.relativeError(key + p.name, store.gradTensor(p))
            if e > worst.0 { worst = (e, p.name) }
        }
        return worst
    }

    func testSurrogateDecoderMatchesPyTorch() throws {
        let fx = try BinaryFixture("prompt_generator")
        var rng = SeededRNG(seed: 0)
        let h = SurrogateDecoder(context: TestContexts.standard, rng: &rng)
        XCTAssertEqual(h.store.count, (fx.meta["h_params"] as! NSNumber).intValue)
        Self.fill(h.store, nil)
        var z = analyticImage(1, 256, 64, 64, phase: 0.4)
        z.data = z.data.map { tanh($0) }
        let (y, cache) = try h.forward(z)
        let eOut = fx.relativeError("h.out", y)
        try h.backward(Self.upstream(y.shape), cache)
        var worst: (Float, String) = (0, "")
        for p in h.store.parameters {
            let e = fx.relativeError("h.grad." + p.name, h.store.gradTensor(p))
            if e > worst.0 { worst = (e, p.name) }
        }
        print("h parity: output \(eOut), worst gradient \(worst.0) (\(worst.1))")
        XCTAssertLessThan(eOut, 1e-4)
        XCTAssertLessThan(worst.0, 1e-4, worst.1)
    }
}
