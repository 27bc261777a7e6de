import ArgumentParser
import Distributed
import Foundation
import Jobs
import Network

/// Images/s of one AutoSAM training step with the embedding cache cold and warm, g alone,
/// and peak memory, beside PyTorch's (the authors' code) in the same run.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Images/s of a training step (cache cold and warm) and of g alone, with PyTorch's.")

    @OptionGroup var options: BenchOptions

    @Option(help: "LiteMedSAM checkpoint.")
    var checkpoint = "weights/lite_medsam.pth"

    @Option(help: "g's HarDNet backbone (hardnet85, hardnet68, hardnet39ds).")
    var backbone = "hardnet85"

    @Option(help: "Batch.")
    var batch: Int = 10

    @Flag(help: "Skip the PyTorch reference even when torch is installed.")
    var noReference = false

    func validate() throws {
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw ValidationError("\(checkpoint): checkpoint not found (Launch/fetch-weights.sh fetches the default)")
        }
        if GeneratorBackbone.named(backbone) == nil { throw ValidationError("unknown backbone \(backbone)") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let threads = ThreadPolicy.resolve(explicit: options.threads)
        let sam = try SAM.load(.liteMedSAM, checkpoint: checkpoint, context: try ExecutionContext.make(threads: threads))
        var rows = try TrainBenchmark.measure(sam: sam, .init(backbone: backbone, batch: batch, threads: threads, repeats: options.repeats))
        if !noReference, let py = BenchSupport.torchPython(), let script = BenchSupport.referenceScript("bench_train.py") {
            rows += BenchSupport.runReference(py, script: script, args: ["--checkpoint", checkpoint, "--backbone", backbone,
                                                                         "--batch", "\(batch)", "--threads", "\(threads)",
                                                                         "--repeats", "\(options.repeats)"])
        }
        if options.json {
            for r in rows { print(BenchSupport.jsonLine(r)) }
            return
        }
        printTable(rows, threads: threads)
    }

    func printTable(_ rows: [[String: Any]], threads: Int) {
        func find(_ engine: String, _ name: String) -> [String: Any]? {
            rows.first { ($0["engine"] as? String) == engine && ($0["name"] as? String) == name }
        }
        let f = BenchSupport.format
        print("AutoSAM training step, g \(backbone), batch \(batch), 256², \(threads) thread(s); median of \(options.repeats); ratio = ours / PyTorch images/s")
        for name in ["train_step_cold", "train_step_warm", "g_forward_backward"] {
            guard let r = find("swift", name) else { continue }
            let ips = r["images_per_s"] as! Double
            var line = name.padding(toLength: 20, withPad: " ", startingAt: 0)
                + " ours \(f(r["seconds"] as! Double, 2)) s \(f(ips, 3)) img/s, peak RSS \(f(r["peak_rss_mb"] as! Double, 0)) MB"
            if let p = find("pytorch", name), let pips = p["images_per_s"] as? Double {
                line += "   pytorch \(f(p["seconds"] as! Double, 2)) s \(f(pips, 3)) img/s, peak RSS \(f(p["peak_rss_mb"] as? Double ?? 0, 0)) MB"
                line += "   ratio \(f(ips / pips, 2))x"
            }
            print(line)
        }
        if let w = find("swift", "train_step_warm"), let pc = find("pytorch", "train_step_cold") {
            print("warm (ours) vs PyTorch's cold step (what the authors' code does every step): "
                  + "\(f((w["images_per_s"] as! Double) / (pc["images_per_s"] as! Double), 2))x")
        }
        if let g = find("swift", "g_forward_backward") {
            var line = "g convolutions: \(f(g["conv_gflop"] as! Double, 1)) GFLOP per forward+backward, "
                + "\(f(g["conv_gflops"] as! Double, 1)) GFLOP/s over g's time = \(f(100 * (g["conv_of_sgemm"] as! Double), 0))% "
                + "of sgemm (\(f(g["sgemm_gflops"] as! Double, 1)) GFLOP/s, this run)"
            if let p = find("pytorch", "g_forward_backward"), let pr = p["conv_gflops"] as? Double, let ps = p["sgemm_gflops"] as? Double {
                line += "; pytorch \(f(pr, 1)) GFLOP/s = \(f(100 * pr / ps, 0))% of its sgemm (\(f(ps, 1)))"
            }
            print(line)
        }
    }
}
