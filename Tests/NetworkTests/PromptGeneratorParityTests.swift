import Foundation
import XCTest
@testable import Network

/// g (HarDNet-85 ModelEmb) and h (ModelH) against PyTorch (Tools/reference/
/// fixtures_prompt_generator.py): parameter names and count, train-mode output, every
/// parameter's gradient (sampled), the updated running statistics, and the eval-mode output and
/// gradients (a max-pool window whose two largest inputs float32 cannot order may route either way).
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
        let eInfer = fx.relativeError("g.out_eval", try g.infer(x))   // BatchNorm folded, activations fused
        let plain = try evalPass(g, x, fx, rerouting: [])
        let eEval = fx.relativeError("g.out_eval", plain.out)
        // Max-pool routing. A max pool sends its gradient to the largest input of each window, and
        // where the two largest are closer than float32's rounding of them, which one that is in
        // float32 is chance: the whole gradient of that window then lands on another input, and
        // every parameter before the pool sees it. Measured on an Intel Xeon with AVX-512, reference
        // engine (alike with OPENBLAS_CORETYPE Prescott, Nehalem, Sandybridge, Haswell, Zen and the
        // default SkylakeX, and with 1, 2 or 4 threads): in base.2 (3×3 max pool of base.1's
        // output), image 0, channel 86, output (13, 4) (flat 22228), the two largest inputs are
        // 0.06830760106 and 0.06830760866 exactly (float64), 7.6e-9 = 1.02 ulp apart; ours are
        // 0.06830759346 and 0.06830754876 (1 and 8 ulp low: sgemm's 432-term sum is 3.7 ulp off at
        // the second, within that channel's rms error of 4e-8), so we route to the first, float64
        // to the second. That one window puts base.0's eval gradients 5.6e-3 (norm.bias) and 4.4e-3
        // (norm.weight, conv.weight) off, in the two sampled channels it reaches (18, 24), against
        // 1e-6 in the others; routed as float64 does, every eval gradient is within 1.4e-5 (3.4e-5
        // with Haswell kernels; PyTorch float32: 1.2e-5, it happened to route as float64). oneDNN routes that window as float64
        // here, and the test passed without rerouting on the AMD EPYC machine it was written on.
        // So when the plain routing is off, the windows whose two largest inputs differ by at most
        // 1e-6 × the pool input's largest value (the float32 error of base.2's input is up to
        // 3.6e-7 = 6.3e-7 of its largest, measured against float64) may route either way: the four
        // closest are tried, one at a time first, and the check holds if one routing puts every
        // eval gradient within 1e-4. Only those windows' routing changes; any other error still fails.
        var worstEval = plain.worst, rerouted: [PoolWindow] = []
        if worstEval.0 >= 1e-4 {
            let near = Array(nearTies(g, plain.modules, tolerance: 1e-6).prefix(4))
            let subsets = (1..<(1 << near.count)).sorted { $0.nonzeroBitCount < $1.nonzeroBitCount }
            for mask in subsets {
                let windows = near.indices.filter { mask >> $0 & 1 == 1 }.map { near[$0] }
                let r = try evalPass(g, x, fx, rerouting: windows)
                if r.worst.0 < worstEval.0 { (worstEval, rerouted) = (r.worst, windows) }
                if r.worst.0 < 1e-4 { break }
            }
            print("g eval gradients (\(engine) engine) with the plain max-pool routing: \(plain.worst.0) "
                  + "(\(plain.worst.1)); near-tied windows \(near); best rerouting \(rerouted)")
        }
        print("g parity (\(engine) engine): train output \(eOut), running stats \(worstBuf.0) (\(worstBuf.1)), "
              + "train gradients vs float64 \(worstTrain.0) (\(worstTrain.1); PyTorch float32: \(trainBound / 2)), "
              + "eval output \(eEval) (fused inference \(eInfer)), eval gradients \(worstEval.0) (\(worstEval.1))"
              + (rerouted.isEmpty ? "" : " with \(rerouted) rerouted"))
        XCTAssertLessThan(eOut, 1e-3, "\(engine)")
        XCTAssertLessThan(worstBuf.0, 1e-4, worstBuf.1 + " (\(engine))")
        XCTAssertLessThan(worstTrain.0, trainBound, worstTrain.1 + " (\(engine))")
        XCTAssertLessThan(eEval, 1e-4, "\(engine)")
        XCTAssertLessThan(eInfer, 1e-4, "fused inference, \(engine)")
        XCTAssertLessThan(worstEval.0, 1e-4, worstEval.1 + " (\(engine); rerouted: \(rerouted))")
    }

    /// A window of one of g's max pools: the module, the output element, the input it would route
    /// to if not to its largest (flat index into the pool's input), and the gap between the two
    /// over the input's largest value.
    struct PoolWindow: CustomStringConvertible {
        let module: Int, output: Int, runnerUp: Int32, gap: Float
        var description: String { "base.\(module) output \(output) (gap \(gap))" }
    }

    /// Eval-mode forward and backward, the windows in `rerouting` sending their gradient to their
    /// runner-up; the output, the worst parameter gradient against the fixture, and the backbone's
    /// module caches (their max-pool routes and ConvLayer outputs stay readable after backward).
    func evalPass(_ g: PromptGenerator, _ x: Tensor, _ fx: BinaryFixture, rerouting: [PoolWindow]) throws
        -> (out: Tensor, worst: (Float, String), modules: [HarDNet.ModuleCache]) {
        g.store.zeroGrads()
        let (out, cache) = try g.forward(x, training: false)
        guard case let .hardnet(backboneCache)? = cache.backbone else { preconditionFailure("not a HarDNet g") }
        var modules: [HarDNet.ModuleCache] = []
        while backboneCache.count > 0 { modules.append(backboneCache.pop()) }
        modules.reverse()
        var routed = modules
        for w in rerouting {
            guard case .maxPool(var argmax, let shape) = routed[w.module] else { preconditionFailure("\(w): not a max pool") }
            argmax[w.output] = w.runnerUp
            routed[w.module] = .maxPool(argmax: argmax, inputShape: shape)
        }
        let stack = CacheStack<HarDNet.ModuleCache>(capacity: routed.count)
        routed.forEach(stack.push)
        let d = cache.decoder!
        try g.backward(Self.upstream(out.shape), PromptGenerator.Cache(backbone: .hardnet(stack), decoder: d))
        return (out, worstGradient(g.store, fx, "g.grad_eval.", skipping: []), modules)
    }

    /// The max-pool windows whose largest input is in (0, 6) (ReLU6 passes its gradient) and whose
    /// runner-up is at most `tolerance` × max |pool input| below it; closest first.
    func nearTies(_ g: PromptGenerator, _ modules: [HarDNet.ModuleCache], tolerance: Float) -> [PoolWindow] {
        var found: [PoolWindow] = []
        for (i, m) in g.hardnet!.modules.enumerated() {
            guard case let .maxPool(k, s, p) = m, case let .maxPool(argmax, shape) = modules[i] else { continue }
            guard i > 0, case let .conv(input) = modules[i - 1] else {
                XCTFail("base.\(i): the max pool's input is not a ConvLayer's output")
                continue
            }
            let x = input.y.data
            let geo = Pool2D.geometry(shape, kernel: k, stride: s, padding: p, ceilMode: false, "nearTies")
            let scale = x.reduce(0) { max($0, abs($1)) }
            for o in argmax.indices {
                let a = Int(argmax[o]), top = x[a]
                guard top > 0 && top < 6 else { continue }
                let plane = o / (geo.oh * geo.ow), oy = o / geo.ow % geo.oh, ox = o % geo.ow
                var second = -1
                for iy in max(0, oy * s - p)..<min(geo.h, oy * s - p + k) {
                    for ix in max(0, ox * s - p)..<min(geo.w, ox * s - p + k) {
                        let j = (plane * geo.h + iy) * geo.w + ix
                        if j != a && (second < 0 || x[j] > x[second]) { second = j }
                    }
                }
                if second >= 0 && top - x[second] <= tolerance * scale {
                    found.append(PoolWindow(module: i, output: o, runnerUp: Int32(second), gap: (top - x[second]) / scale))
                }
            }
        }
        return found.sorted { $0.gap < $1.gap }
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
