import Foundation
import Jobs
import Network

/// One benchmark shape: a convolution [N,C,H,W] → [N,K,·,·], or a transposed convolution with
/// C input and K output channels, as recorded from a model's forward pass.
struct ConvBenchShape {
    var name: String
    var shape: ConvCallShape
    /// Calls per forward pass of its model.
    var calls: Int

    /// "N,C,K,H,W,kH,kW,stride,pad,dilation,groups,transposed"
    var key: String {
        let s = shape
        return [s.n, s.c, s.k, s.h, s.w, s.kh, s.kw, s.stride, s.pad, s.dilation, s.groups, s.transposed ? 1 : 0]
            .map(String.init).joined(separator: ",")
    }

    /// What bench_conv.py reads.
    var json: [String: Any] {
        let s = shape
        return ["name": name, "n": s.n, "c": s.c, "k": s.k, "h": s.h, "w": s.w, "kh": s.kh, "kw": s.kw,
                "stride": s.stride, "pad": s.pad, "dilation": s.dilation, "groups": s.groups,
                "transposed": s.transposed, "output_padding": s.outputPadding]
    }

    /// The distinct shapes of one forward pass of each model (batch 1, then set to `batch`),
    /// in the order they run; a shape two models share is listed under the first. The models
    /// run on `context`'s engine behind a `RecordingConvBackend`.
    static func recorded(models: [String], backbone: String, checkpoint: String, batch: Int,
                         context: ExecutionContext) throws -> [ConvBenchShape] {
        var out: [ConvBenchShape] = [], seen: Set<String> = []
        let recorder = RecordingConvBackend(wrapping: context.convolution)
        let recording = context.with(convolution: recorder)
        func record(_ model: String, _ pass: () throws -> Void) throws {
            recorder.start()
            try pass()
            for (s, calls) in recorder.stop() {
                var s = s
                s.n = batch
                let b = ConvBenchShape(name: "", shape: s, calls: calls)
                guard seen.insert(b.key).inserted else { continue }
                out.append(ConvBenchShape(name: label(model, s), shape: s, calls: calls))
            }
        }
        var rng = SeededRNG(seed: 1)
        if models.contains("g") {
            let g = PromptGenerator(backbone: GeneratorBackbone.named(backbone)!, context: recording, rng: &rng)
            try record("g") { _ = try g.forward(Tensor(zeros: [1, 3, 256, 256]), training: false) }
        }
        if models.contains("encoder") {
            let sam = try SAM.load(.liteMedSAM, checkpoint: checkpoint, context: recording)
            try record("enc") { _ = try sam.imageEncoder(Tensor(zeros: [1, 3, sam.imageSize, sam.imageSize])) }
        }
        if models.contains("h") {
            let h = SurrogateDecoder(context: recording, rng: &rng)
            try record("h") { _ = try h.forward(Tensor(zeros: [1, 256, 64, 64])) }
        }
        return out
    }

    static func label(_ model: String, _ s: ConvCallShape) -> String {
        var t = "\(model) \(s.transposed ? "T " : "")\(s.c)→\(s.k) \(s.h == s.w ? "\(s.h)²" : "\(s.h)×\(s.w)") \(s.kh)×\(s.kw)"
        if s.stride != 1 { t += " s\(s.stride)" }
        if s.dilation != 1 { t += " d\(s.dilation)" }
        if s.groups == s.c && s.groups > 1 { t += " dw" } else if s.groups > 1 { t += " g\(s.groups)" }
        if s.outputPadding != 0 { t += " op\(s.outputPadding)" }
        return t
    }

    var convGeometry: Conv2DGeometry {
        Conv2DGeometry(stride: shape.stride, padding: shape.pad, dilation: shape.dilation, groups: shape.groups)
    }
    var transposedGeometry: ConvTranspose2DGeometry {
        ConvTranspose2DGeometry(stride: shape.stride, padding: shape.pad, outputPadding: shape.outputPadding,
                                dilation: shape.dilation, groups: shape.groups)
    }

    /// Multiply-adds × 2 over the smaller (input) side for transposed convolutions; backward
    /// (data + weights) counts twice the forward.
    func flops(_ direction: String) -> Double {
        let s = shape
        let macs: Double
        if s.transposed {
            macs = Double(s.n * s.c * s.h * s.w) * Double(s.k / s.groups * s.kh * s.kw)
        } else {
            let o = convGeometry.outputSize(inputH: s.h, inputW: s.w, kernelH: s.kh, kernelW: s.kw)
            macs = Double(s.n * s.k * o.h * o.w) * Double(s.c / s.groups * s.kh * s.kw)
        }
        return 2 * macs * (direction == "backward" ? 2 : 1)
    }

    /// Median seconds of forward and of backward (data + weights + bias) on `backend`, with the
    /// oneDNN engine's per-call seconds in layout reorders (NCHW ↔ blocked) averaged over repeats.
    func time(on backend: any ConvBackend, repeats: Int) throws -> [(String, Double, Double)] {
        let s = shape
        var rng = SeededRNG(seed: 1)
        let x = Tensor.uniform([s.n, s.c, s.h, s.w], rng: &rng)
        let wShape = s.transposed ? [s.c, s.k / s.groups, s.kh, s.kw] : [s.k, s.c / s.groups, s.kh, s.kw]
        let weight = Tensor.uniform(wShape, rng: &rng, lo: -0.1, hi: 0.1)
        let bias = Tensor.uniform([s.k], rng: &rng)
        let fwd: () throws -> Tensor = s.transposed
            ? { try ConvTranspose2D.forward(x, weight: weight, bias: bias, transposedGeometry, backend: backend) }
            : { try Conv2D.forward(x, weight: weight, bias: bias, convGeometry, backend: backend) }
        let y = try fwd()
        let dy = Tensor(shape: y.shape, data: y.data.map { $0 * 1e-3 })
        let bwd: () throws -> Void = s.transposed
            ? { _ = try ConvTranspose2D.backward(dy, input: x, weight: weight, transposedGeometry, backend: backend) }
            : { _ = try Conv2D.backward(dy, input: x, weight: weight, convGeometry, backend: backend) }
        return [try Self.median("forward", repeats, backend) { _ = try fwd() }, try Self.median("backward", repeats, backend, bwd)]
    }

    /// (direction, median seconds, oneDNN reorder seconds per call) after one warm-up call
    /// (primitive creation, page faults); the reorder split is the oneDNN backend's opt-in profile.
    static func median(_ direction: String, _ repeats: Int, _ backend: any ConvBackend,
                       _ body: () throws -> Void) throws -> (String, Double, Double) {
        try body()
        let dnnl = backend as? OneDNNConvBackend
        dnnl?.profilesLayout = true
        _ = dnnl?.takeLayoutProfile()
        defer { dnnl?.profilesLayout = false }
        let t = try BenchClock.median(repeats: repeats, warmup: false, body)
        let reorder = (dnnl?.takeLayoutProfile().reorder ?? 0) / Double(repeats)
        return (direction, t, reorder)
    }
}
