import ArgumentParser
import Datasets
import Distributed
import Foundation
import Jobs
import Network
import Training

struct Figures: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the paper's per-image panels and the training curve as PNG.",
        discussion: """
            Panels (a) input, (b) ground truth, (c) Mz, (d) SAM prompted from Mz, (e) SAM prompted
            from the ground truth, and with --self-prompt (f) the self-prompted mask with its box (green:
            used, red: refused); below them (g) the input with the final mask's outline (yellow) and the
            ground truth's (blue). Each mask's caption gives its Dice against the ground truth. (d) and (e)
            use box prompts with LiteMedSAM (it ignores mask-only prompts): the box of Mz's largest
            component, and the ground truth's box; with SAM ViT they use mask prompts (Mz's logits, the
            ground truth as ±10 logits). For N test images:
              autosam-dist figures --checkpoint runs/demo/best.ckpt --data demo-data/TestDataset --images 4 --output figs
            Training curve (loss and Dice per epoch) from a run's metrics log:
              autosam-dist figures --curve runs/demo/metrics.jsonl --output figs
            """)

    @Option(help: "AutoSAM training checkpoint (for the panels).")
    var checkpoint: String?

    @Option(help: "A folder holding test datasets (for the panels).")
    var data: String?

    @Option(help: "Draw from a split of the checkpoint's training config instead of --data: 'validation' (the held-out images).")
    var split: String?

    @Option(help: "How many test images get panels (spread evenly over the datasets' images).")
    var images = 4

    @Option(help: "Output folder.")
    var output: String

    @Option(help: "A metrics.jsonl training log: also draw training_curve.png.")
    var curve: String?

    @Option(help: "SAM weights (.pth), overriding the path stored in the checkpoint.")
    var samCheckpoint: String?

    @Option(help: "Surrogate decoder h from train-h (default: h.ckpt beside --checkpoint, if present): adds the h rows.")
    var surrogate: String?

    @OptionGroup(title: "Self-prompting (panel f)")
    var selfPrompt: SelfPromptFlags

    @Flag(help: "Skip unreadable or unmatched files with a warning instead of stopping.")
    var skipBad = false

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard checkpoint != nil || curve != nil else { throw ValidationError("give --checkpoint and --data (panels) and/or --curve") }
        if let sp = split, sp != "validation" { throw ValidationError("--split: only 'validation' is known, got '\(sp)'") }
        if split != nil && data != nil { throw ValidationError("--split and --data exclude each other") }
        if checkpoint == nil && (data != nil || split != nil) { throw ValidationError("--data or --split needs --checkpoint") }
        if checkpoint != nil && data == nil && split == nil { throw ValidationError("--checkpoint needs --data or --split validation") }
        if let c = checkpoint, !FileManager.default.fileExists(atPath: c) { throw ValidationError("\(c): checkpoint not found") }
        if let d = data, !FileManager.default.fileExists(atPath: d) { throw ValidationError("\(d): dataset folder not found") }
        if let c = curve, !FileManager.default.fileExists(atPath: c) { throw ValidationError("\(c): metrics log not found") }
        if let s = samCheckpoint, !FileManager.default.fileExists(atPath: s) { throw ValidationError("\(s): SAM checkpoint not found") }
        if images < 1 { throw ValidationError("--images must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
        if selfPrompt.given && checkpoint == nil { throw ValidationError("--self-prompt and its settings need --checkpoint (the panels)") }
    }

    func run() throws {
        do {
            let context = try ThreadPolicy.context(explicit: threads)
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            if let c = curve {
                let path = (output as NSString).appendingPathComponent("training_curve.png")
                try PNGCodec.write(TrainingCurve.render(try TrainingCurve.readMetrics(c)), to: path)
                print("wrote \(path)")
            }
            if let c = checkpoint {
                let trained = try TrainedModel.load(c, samCheckpoint: samCheckpoint, context: context)
                let samples: [DatasetSample]
                if let d = data {
                    let sets = try SegmentationDataset.discover(d, skipBad: skipBad)
                    for s in sets where !s.skipped.isEmpty { print("warning: \(s.report)") }
                    samples = sets.flatMap(\.samples)
                } else {
                    samples = try TrainingSplit.load(trained.config).validation
                    guard !samples.isEmpty else { throw ConfigError(path: c, problem: "the checkpoint's config holds out no validation images") }
                }
                let hPath = SurrogateModel.path(given: surrogate, besideCheckpoint: c)
                let h = try hPath.map { try SurrogateModel.load($0, generatorCheckpoint: c, context: context) }
                let maker = FigureMaker(model: trained.model, selfPrompt: selfPrompt.resolve(trained.config))
                let written = try maker.write(samples: samples, count: images, to: output, surrogate: h) { print($0) }
                print("wrote \(written.count) figure(s) to \(output)/" + (h == nil ? " (no surrogate decoder h given: no h rows; train one with train-h)" : ""))
            }
        } catch {
            FileHandle.standardError.write(Data("autosam-dist figures: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
