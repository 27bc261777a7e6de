import ArgumentParser
import Distributed
import Foundation
import Jobs
import Network

/// g (the prompt generator) forward + backward in train mode, and its evaluation-mode forward
/// (plain, and fused: BatchNorm folded, activations in the convolutions), beside PyTorch's.
struct BenchG: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "g", abstract: "Seconds for g (HarDNet prompt generator) forward + backward, with PyTorch's.")

    @OptionGroup var options: BenchOptions

    @Option(help: "HarDNet variant (hardnet85, hardnet68, hardnet39ds).")
    var variant = "hardnet85"

    @Option(help: "Batch.")
    var batch: Int = 10

    @Option(help: "Image side.")
    var size: Int = 256

    @Flag(help: "Skip the PyTorch reference even when torch is installed.")
    var noReference = false

    func validate() throws {
        if GeneratorBackbone.named(variant) == nil { throw ValidationError("unknown variant \(variant)") }
        if batch < 1 || size % 16 != 0 { throw ValidationError("--batch ≥ 1 and --size a multiple of 16") }
    }

    func run() throws {
        let threads = ThreadPolicy.resolve(explicit: options.threads)
        let context = try ExecutionContext.make(threads: threads)
        var rng = SeededRNG(seed: 3)
        let g = PromptGenerator(backbone: GeneratorBackbone.named(variant)!, context: context, rng: &rng)
        let x = Tensor.uniform([batch, 3, size, size], rng: &rng, lo: 0, hi: 1)
        BenchClock.resetPeakRSS()
        var forward: [Double] = [], backward: [Double] = []   // per run, the warm-up first
        let t = try BenchClock.median(repeats: options.repeats) {
            let t0 = BenchClock.now()
            let (z, cache) = try g.forward(x, training: true)
            let t1 = BenchClock.now()
            try g.backward(Tensor(shape: z.shape, repeating: 1), cache)
            forward.append(t1 - t0)
            backward.append(BenchClock.now() - t1)
            g.store.zeroGrads()
        }
        func median(_ v: [Double]) -> Double { let s = v.dropFirst().sorted(); return s[s.count / 2] }
        var rows: [[String: Any]] = [["name": "g_forward_backward", "batch": batch, "seconds": t, "threads": threads,
                                      "engine": "swift", "peak_rss_mb": BenchClock.peakRSSMB(),
                                      "forward_seconds": median(forward), "backward_seconds": median(backward)]]
        let te = try BenchClock.median(repeats: options.repeats) { _ = try g.forward(x, training: false) }
        let ti = try BenchClock.median(repeats: options.repeats) { _ = try g.infer(x) }
        rows.append(["name": "g_eval_forward", "batch": batch, "seconds": te, "threads": threads, "engine": "swift"])
        rows.append(["name": "g_inference_fused", "batch": batch, "seconds": ti, "threads": threads, "engine": "swift"])
        if !noReference, let py = BenchSupport.torchPython(), let script = BenchSupport.referenceScript("bench_g.py") {
            rows += BenchSupport.runReference(py, script: script, args: ["--variant", variant, "--batch", "\(batch)",
                                                                         "--size", "\(size)", "--threads", "\(threads)",
                                                                         "--repeats", "\(options.repeats)"])
        }
        if options.json {
            for r in rows { print(BenchSupport.jsonLine(r)) }
            return
        }
        let ours = rows[0]["seconds"] as! Double
        print("g \(variant), batch \(batch), \(size)², \(threads) thread(s); seconds (median)")
        var line = "g forward+backward  ours \(BenchSupport.format(ours, 3)) s "
            + "(forward \(BenchSupport.format(rows[0]["forward_seconds"] as! Double, 3)) s, "
            + "backward \(BenchSupport.format(rows[0]["backward_seconds"] as! Double, 3)) s; "
            + "peak RSS \(BenchSupport.format(rows[0]["peak_rss_mb"] as! Double, 0)) MB)"
        if let r = rows.first(where: { ($0["engine"] as? String) == "pytorch" }), let rt = r["seconds"] as? Double {
            line += "   pytorch \(BenchSupport.format(rt, 3)) s   ratio \(BenchSupport.format(rt / ours, 2))x"
            if let m = r["peak_rss_mb"] as? Double { line += " (pytorch peak RSS \(BenchSupport.format(m, 0)) MB)" }
        }
        print(line)
        let pe = rows.first { ($0["engine"] as? String) == "pytorch" && ($0["name"] as? String) == "g_eval_forward" }?["seconds"] as? Double
        for (label, name) in [("g eval forward     ", "g_eval_forward"), ("g fused inference  ", "g_inference_fused")] {
            guard let s = rows.first(where: { ($0["name"] as? String) == name && ($0["engine"] as? String) == "swift" })?["seconds"] as? Double
            else { continue }
            print(label + " ours \(BenchSupport.format(s, 3)) s"
                  + (pe.map { "   pytorch eval (no_grad) \(BenchSupport.format($0, 3)) s   ratio \(BenchSupport.format($0 / s, 2))x" } ?? ""))
        }
    }
}
