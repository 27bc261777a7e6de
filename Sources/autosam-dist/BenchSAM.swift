import ArgumentParser
import Distributed
import Foundation
import Jobs
import Network

/// LiteMedSAM encoder and mask decoder timings, beside PyTorch's in the same run.
struct BenchSAM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sam", abstract: "Seconds for the LiteMedSAM encoder and the mask decoder forward/backward, with PyTorch's.")

    @OptionGroup var options: BenchOptions

    @Option(help: "LiteMedSAM checkpoint.")
    var checkpoint = "weights/lite_medsam.pth"

    @Option(help: "Batch for the batched measurements.")
    var batch: Int = 10

    @Flag(help: "Skip the PyTorch reference even when torch is installed.")
    var noReference = false

    @Flag(help: "Time only the decoder (on a random embedding); for profiling.")
    var decoderOnly = false

    func validate() throws {
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw ValidationError("\(checkpoint): checkpoint not found (Launch/fetch-weights.sh fetches the default)")
        }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let threads = ThreadPolicy.resolve(explicit: options.threads)
        let sam = try SAM.load(.liteMedSAM, checkpoint: checkpoint, context: try ExecutionContext.make(threads: threads))
        var rows: [[String: Any]] = []
        func record(_ name: String, _ b: Int, _ t: Double, extra: [String: Any] = [:]) {
            var r: [String: Any] = ["name": name, "batch": b, "seconds": t, "threads": threads, "engine": "swift"]
            for (k, v) in extra { r[k] = v }
            rows.append(r)
        }
        var rng = SeededRNG(seed: 2)
        let x1 = Tensor.uniform([1, 3, 256, 256], rng: &rng, lo: 0, hi: 1)
        let xb = Tensor.uniform([batch, 3, 256, 256], rng: &rng, lo: 0, hi: 1)
        var emb = Tensor.uniform([batch, 256, 64, 64], rng: &rng, lo: -1, hi: 1)
        if !decoderOnly {
            record("encoder", 1, try BenchClock.median(repeats: options.repeats) { _ = try sam.imageEncoder(x1) })
            record("encoder", batch, try BenchClock.median(repeats: 1) { emb = try sam.imageEncoder(xb) })
        }

        let dense = Tensor.uniform([batch, 256, 64, 64], rng: &rng, lo: -1, hi: 1)
        let sparse = Tensor(zeros: [1, 0, 256])
        record("decoder_forward", batch, try BenchClock.median(repeats: options.repeats) {
            _ = try sam.maskDecoder.forward(imageEmbedding: emb, imagePE: sam.densePE, sparse: sparse, dense: dense, multimaskOutput: false)
        })
        let gt = Tensor(shape: [batch, 1, 256, 256], data: (0..<(batch * 65536)).map { Float(($0 / 256 + $0 % 256) % 3 == 0 ? 1 : 0) })
        BenchClock.resetPeakRSS()
        let before = BenchClock.peakRSSMB()
        let tfb = try BenchClock.median(repeats: options.repeats) {
            let (out, cache) = try sam.maskDecoder.forward(imageEmbedding: emb, imagePE: sam.densePE, sparse: sparse, dense: dense, multimaskOutput: false)
            let loss = SegmentationLoss.bceDice(logits: out.masks, target: gt)
            _ = try sam.maskDecoder.backwardDense(dMasks: loss.gradient, cache)
        }
        record("decoder_forward_backward", batch, tfb, extra: ["peak_rss_mb": BenchClock.peakRSSMB(), "peak_rss_delta_mb": BenchClock.peakRSSMB() - before])

        if !noReference && !decoderOnly, let py = BenchSupport.torchPython(), let script = BenchSupport.referenceScript("bench_sam.py") {
            rows += BenchSupport.runReference(py, script: script, args: ["--checkpoint", checkpoint, "--batch", "\(batch)",
                                                                         "--threads", "\(threads)", "--repeats", "\(options.repeats)"])
        }
        if options.json {
            for r in rows { print(BenchSupport.jsonLine(r)) }
            return
        }
        printTable(rows, threads: threads)
    }

    func printTable(_ rows: [[String: Any]], threads: Int) {
        print("LiteMedSAM, \(threads) thread(s); seconds (median); ratio = PyTorch / ours")
        let ours = rows.filter { ($0["engine"] as? String) == "swift" }
        for r in ours {
            let name = r["name"] as! String, b = r["batch"] as! Int, t = r["seconds"] as! Double
            let ref = rows.first { ($0["engine"] as? String) == "pytorch" && ($0["name"] as? String) == name && ($0["batch"] as? Int) == b }
            var line = "\(name) (batch \(b))".padding(toLength: 38, withPad: " ", startingAt: 0) + " ours \(BenchSupport.format(t, 3)) s"
            if let rt = ref?["seconds"] as? Double {
                line += "   pytorch \(BenchSupport.format(rt, 3)) s   ratio \(BenchSupport.format(rt / t, 2))x"
            }
            if let m = r["peak_rss_mb"] as? Double {
                line += "   peak RSS \(BenchSupport.format(m, 0)) MB (+\(BenchSupport.format(r["peak_rss_delta_mb"] as! Double, 0)) MB)"
            }
            if let m = ref?["peak_rss_mb"] as? Double { line += ", pytorch peak RSS \(BenchSupport.format(m, 0)) MB" }
            print(line)
        }
    }
}
