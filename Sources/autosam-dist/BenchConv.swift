import ArgumentParser
import Foundation
import Network

/// `autosam-dist bench conv`: every distinct convolution g (HarDNet), the LiteMedSAM encoder
/// and h run, recorded from one forward pass of each, timed forward and backward (data +
/// weights + bias) on each engine at the given batch, next to PyTorch's F.conv2d /
/// F.conv_transpose2d on the same shapes in the same run (Tools/reference/bench_conv.py)
/// when torch is installed.
struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "Time every convolution shape of g, the LiteMedSAM encoder and h on each engine and in PyTorch.")

    @Option(help: "Batch size N.")
    var batch = 10

    @Option(help: "Compute threads (OpenBLAS, oneDNN's OpenMP and PyTorch's).")
    var threads = 1

    @Option(help: "Timed repeats after one warm-up; the median is reported.")
    var repeats = 3

    @Option(help: "Comma-separated engines: reference, onednn.")
    var engines = "reference,onednn"

    @Option(help: "Comma-separated models whose shapes to time: g, encoder, h.")
    var models = "g,encoder,h"

    @Option(help: "g's HarDNet backbone (hardnet85, hardnet68, hardnet39ds).")
    var backbone = "hardnet85"

    @Option(help: "LiteMedSAM checkpoint (for the encoder's shapes).")
    var checkpoint = "weights/lite_medsam.pth"

    @Option(help: "Only shapes whose name contains this text.")
    var only: String?

    @Flag(help: "One JSON object per measurement instead of a table.")
    var json = false

    @Flag(help: "Skip the PyTorch reference even when torch is installed.")
    var noReference = false

    func validate() throws {
        if batch < 1 || threads < 1 || repeats < 1 {
            throw ValidationError("--batch, --threads and --repeats must be at least 1")
        }
        for m in modelList where !["g", "encoder", "h"].contains(m) {
            throw ValidationError("unknown model \(m) in --models (want g, encoder, h)")
        }
        if GeneratorBackbone.named(backbone) == nil { throw ValidationError("unknown backbone \(backbone)") }
        if modelList.contains("encoder") && !FileManager.default.fileExists(atPath: checkpoint) {
            throw ValidationError("\(checkpoint): checkpoint not found; the encoder's shapes need it "
                                  + "(Launch/fetch-weights.sh fetches it, or leave encoder out of --models)")
        }
    }

    var modelList: [String] { models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        let names = try engines.split(separator: ",").map { s -> ConvEngine in
            guard let e = ConvEngine(rawValue: s.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown engine \(s) (want reference or onednn)")
            }
            return e
        }
        // One backend per engine (oneDNN's throws, naming libdnnl-dev, when the library is missing);
        // the shapes are recorded on the default engine (AUTOSAM_CONV_ENGINE, else auto).
        let list = try names.map { (engine: $0, backend: try ExecutionContext.make(engine: $0.rawValue, threads: threads).convolution) }
        let recording = try ExecutionContext.make(threads: threads)
        let shapes = try ConvBenchShape.recorded(models: modelList, backbone: backbone, checkpoint: checkpoint, batch: batch,
                                                 context: recording)
            .filter { only == nil || $0.name.contains(only!) }
        var rows: [[String: Any]] = []
        if !noReference, let py = BenchSupport.torchPython(), let script = BenchSupport.referenceScript("bench_conv.py") {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("autosam-bench-conv-\(getpid()).json")
            try JSONSerialization.data(withJSONObject: shapes.map(\.json)).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            if !json { print("timing PyTorch on \(shapes.count) shapes …"); fflush(nil) }
            rows += BenchSupport.runReference(py, script: script, args: ["--shapes", file.path, "--threads", "\(threads)",
                                                                         "--repeats", "\(repeats)"])
        }
        if !json {
            let winograd = list.lazy.compactMap { $0.backend as? OneDNNConvBackend }.first?.winograd
                ?? ExecutionContext.environmentAllowsWinograd()
            print("batch \(batch), \(threads) thread(s), median of \(repeats); GFLOP/s (backward = data + weights)"
                  + (ConvEngine.oneDNNVersion.map { "; oneDNN \($0)" } ?? "")
                  + (winograd ? "; Winograd on" : "; Winograd off"))
        }
        for s in shapes {
            for (e, backend) in list {
                for (dir, seconds, reorder) in try s.time(on: backend, repeats: repeats) {
                    var r: [String: Any] = ["shape": s.key, "name": s.name, "engine": e.rawValue, "direction": dir,
                                            "threads": threads, "seconds": seconds, "gflops": s.flops(dir) / seconds / 1e9,
                                            "calls": s.calls]
                    if e == .onednn { r["reorder_seconds"] = reorder }
                    rows.append(r)
                    if json { print(BenchSupport.jsonLine(r)); fflush(nil) }
                }
            }
        }
        if json {
            for r in rows where (r["engine"] as? String) == "pytorch" { print(BenchSupport.jsonLine(r)) }
        } else {
            ConvBenchReport(rows: rows, shapes: shapes, engines: list.map(\.engine.rawValue)).print()
        }
    }
}
