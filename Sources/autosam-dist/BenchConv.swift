import ArgumentParser
import Foundation
import Network

/// `autosam-dist bench conv`: times each convolution shape forward and backward (data + weights
/// + bias) with the reference (im2col + sgemm) and oneDNN engines. Tools/reference/bench_conv.py
/// times PyTorch on the same shapes and prints the same JSON lines (engine "pytorch").
struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "Time convolution shapes of g, the LiteMedSAM encoder and h on each conv engine.")

    @Option(help: "Batch size N.")
    var batch = 10

    @Option(help: "Compute threads (OpenBLAS and oneDNN's OpenMP).")
    var threads = 1

    @Option(help: "Timed repeats after one warm-up; the median is reported.")
    var repeats = 3

    @Option(help: "Comma-separated engines: reference, onednn.")
    var engines = "reference,onednn"

    @Option(help: "Only shapes whose name contains this text.")
    var only: String?

    @Flag(help: "One JSON object per measurement instead of a table.")
    var json = false

    func validate() throws {
        if batch < 1 || threads < 1 || repeats < 1 {
            throw ValidationError("--batch, --threads and --repeats must be at least 1")
        }
    }

    func run() throws {
        ComputeThreads.set(threads)
        let list = try engines.split(separator: ",").map { s -> ConvEngine in
            guard let e = ConvEngine(rawValue: s.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown engine \(s) (want reference or onednn)")
            }
            return e
        }
        if list.contains(.onednn) { try ConvEngine.requireOneDNN() }   // names libdnnl-dev when missing
        let shapes = ConvBenchShape.all(batch: batch).filter { only == nil || $0.name.contains(only!) }
        if !json {
            print("batch \(batch), \(threads) thread(s), median of \(repeats); GFLOP/s (backward = data + weights)"
                  + (ConvEngine.oneDNNVersion.map { "; oneDNN \($0)" } ?? ""))
            let head = ["shape", "dir"] + list.map(\.rawValue) + (list.contains(.onednn) ? ["reorder%"] : [])
            print(head.enumerated().map { $0.offset == 0 ? pad($0.element, 34) : pad($0.element, 11) }.joined())
        }
        for s in shapes {
            var rows: [String: [String]] = [:]
            var reorderShare: [String: Double] = [:]
            for e in list {
                for (dir, seconds, reorder) in s.time(engine: e, repeats: repeats) {
                    let gflops = s.flops(dir) / seconds / 1e9
                    if e == .onednn { reorderShare[dir] = reorder / seconds }
                    if json {
                        print("{\"shape\": \"\(s.key)\", \"name\": \"\(s.name)\", \"engine\": \"\(e.rawValue)\", "
                              + "\"direction\": \"\(dir)\", \"threads\": \(threads), "
                              + "\"seconds\": \(String(format: "%.6f", seconds)), \"gflops\": \(String(format: "%.2f", gflops))"
                              + (e == .onednn ? ", \"reorder_seconds\": \(String(format: "%.6f", reorder))" : "") + "}")
                    } else {
                        rows[dir, default: []].append(String(format: "%.1f", gflops))
                    }
                }
                fflush(stdout)
            }
            if !json {
                for dir in ["forward", "backward"] {
                    print(pad(s.name, 34) + pad(dir, 11) + (rows[dir] ?? []).map { pad($0, 11) }.joined()
                          + (reorderShare[dir].map { String(format: "%.0f%%", 100 * $0) } ?? ""))
                }
            }
        }
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}

/// One benchmark shape: a convolution [N,C,H,W] → [N,K,·,·], or a transposed convolution with
/// C input and K output channels.
struct ConvBenchShape {
    var name: String
    var n, c, k, h, w, kh, kw, stride, pad, dilation, groups: Int
    var transposed = false
    var outputPadding = 0

    /// "N,C,K,H,W,kH,kW,stride,pad,dilation,groups,transposed"
    var key: String {
        [n, c, k, h, w, kh, kw, stride, pad, dilation, groups, transposed ? 1 : 0].map(String.init).joined(separator: ",")
    }

    /// HarDNet-style narrow 3×3 and 1×1 layers (toolchain.md §7), TinyViT's depthwise and
    /// pointwise convolutions, h's transposed convolutions.
    static func all(batch n: Int) -> [ConvBenchShape] {
        [
            .init(name: "g 64→64 128² 3×3", n: n, c: 64, k: 64, h: 128, w: 128, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, groups: 1),
            .init(name: "g 120→24 64² 3×3", n: n, c: 120, k: 24, h: 64, w: 64, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, groups: 1),
            .init(name: "g 48→24 64² 3×3", n: n, c: 48, k: 24, h: 64, w: 64, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, groups: 1),
            .init(name: "g 500→192 64² 1×1", n: n, c: 500, k: 192, h: 64, w: 64, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, groups: 1),
            .init(name: "g 320→320 32² 3×3", n: n, c: 320, k: 320, h: 32, w: 32, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, groups: 1),
            .init(name: "g 720→320 32² 3×3", n: n, c: 720, k: 320, h: 32, w: 32, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, groups: 1),
            .init(name: "vit dw 256 256² 3×3", n: n, c: 256, k: 256, h: 256, w: 256, kh: 3, kw: 3, stride: 1, pad: 1, dilation: 1, groups: 256),
            .init(name: "vit 64→256 256² 1×1", n: n, c: 64, k: 256, h: 256, w: 256, kh: 1, kw: 1, stride: 1, pad: 0, dilation: 1, groups: 1),
            .init(name: "vit dw 256 256² 3×3 s2", n: n, c: 256, k: 256, h: 256, w: 256, kh: 3, kw: 3, stride: 2, pad: 1, dilation: 1, groups: 256),
            .init(name: "h T 256→64 64² k3 s2 op1", n: n, c: 256, k: 64, h: 64, w: 64, kh: 3, kw: 3, stride: 2, pad: 1, dilation: 1, groups: 1,
                  transposed: true, outputPadding: 1),
            .init(name: "h T 64→16 128² k2 s2", n: n, c: 64, k: 16, h: 128, w: 128, kh: 2, kw: 2, stride: 2, pad: 0, dilation: 1, groups: 1,
                  transposed: true),
        ]
    }

    var convGeometry: Conv2DGeometry { Conv2DGeometry(stride: stride, padding: pad, dilation: dilation, groups: groups) }
    var transposedGeometry: ConvTranspose2DGeometry {
        ConvTranspose2DGeometry(stride: stride, padding: pad, outputPadding: outputPadding, dilation: dilation, groups: groups)
    }

    /// Multiply-adds × 2 over the smaller (input) side for transposed convolutions; backward
    /// (data + weights) counts twice the forward.
    func flops(_ direction: String) -> Double {
        let macs: Double
        if transposed {
            macs = Double(n * c * h * w) * Double(k / groups * kh * kw)
        } else {
            let o = convGeometry.outputSize(inputH: h, inputW: w, kernelH: kh, kernelW: kw)
            macs = Double(n * k * o.h * o.w) * Double(c / groups * kh * kw)
        }
        return 2 * macs * (direction == "backward" ? 2 : 1)
    }

    /// Median seconds of forward and of backward (data + weights + bias) on `engine`, with the
    /// oneDNN engine's per-call seconds in layout reorders (NCHW ↔ blocked) averaged over repeats.
    func time(engine: ConvEngine, repeats: Int) -> [(String, Double, Double)] {
        var rng = SeededRNG(seed: 1)
        let x = Tensor.uniform([n, c, h, w], rng: &rng)
        let wShape = transposed ? [c, k / groups, kh, kw] : [k, c / groups, kh, kw]
        let weight = Tensor.uniform(wShape, rng: &rng, lo: -0.1, hi: 0.1)
        let bias = Tensor.uniform([k], rng: &rng)
        let fwd: () -> Tensor = transposed
            ? { ConvTranspose2D.forward(x, weight: weight, bias: bias, transposedGeometry, engine: engine) }
            : { Conv2D.forward(x, weight: weight, bias: bias, convGeometry, engine: engine) }
        let y = fwd()
        let dy = Tensor(shape: y.shape, data: y.data.map { $0 * 1e-3 })
        let bwd: () -> Void = transposed
            ? { _ = ConvTranspose2D.backward(dy, input: x, weight: weight, transposedGeometry, engine: engine) }
            : { _ = Conv2D.backward(dy, input: x, weight: weight, convGeometry, engine: engine) }
        return [Self.median("forward", repeats) { _ = fwd() }, Self.median("backward", repeats, bwd)]
    }

    static func median(_ direction: String, _ repeats: Int, _ body: () -> Void) -> (String, Double, Double) {
        body()   // warm-up: primitive creation, page faults
        _ = ConvEngine.oneDNNLayoutProfile(enable: true)
        defer { _ = ConvEngine.oneDNNLayoutProfile(enable: false) }
        var t: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let reorder = ConvEngine.oneDNNLayoutProfile(enable: false).reorder / Double(repeats)
        t.sort()
        return (direction, t[t.count / 2], reorder)
    }
}
