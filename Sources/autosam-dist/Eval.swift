import ArgumentParser
import Distributed
import Foundation
import Jobs
import Network
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a trained AutoSAM on datasets: per-image Dice, IoU and MAE, and a paper-style table.",
        discussion: """
            Example: autosam-dist eval --checkpoint runs/demo/best.ckpt --data demo-data/TestDataset --output runs/demo/eval
            Every dataset found under each --data folder is one row; DIR gets per_image.csv, summary.md and summary.csv (the table).
            With --self-prompt each row also scores self-prompted AutoSAM (beside g alone) and counts the images whose box pass was used.
            """)

    @Option(help: "AutoSAM training checkpoint (best.ckpt / last.ckpt).")
    var checkpoint: String?

    @Option(help: "g from a ModelEmb state dict (.pth or .safetensors: `export`'s or PyTorch's); with --checkpoint, replaces its g.")
    var g: String?

    @Option(help: "A folder holding one or more datasets (repeatable).")
    var data: [String] = []

    @Option(help: "Score a split of the checkpoint's training config instead of (or beside) --data folders: 'validation' (the held-out images the run chose on).")
    var split: String?

    @Option(name: .customLong("precise-bn"), help: "First recompute g's BatchNorm running statistics as the plain average over N training images of the checkpoint's config (PreciseBN, the images train.precise_bn_images picks), in batches of --batch-size.")
    var preciseBN: Int?

    @Flag(help: "Also score SAM prompted with each ground-truth mask's bounding box (no g): what a person's box would reach.")
    var boxBaseline = false

    @OptionGroup(title: "Self-prompting")
    var selfPrompt: SelfPromptFlags

    @Option(help: "Output folder for per_image.csv, summary.md and summary.csv.")
    var output: String

    @Option(help: "SAM weights (.pth), overriding the path stored in the checkpoint.")
    var samCheckpoint: String?

    @Option(help: "Embedding cache folder (default: the one in the checkpoint's config).")
    var cache: String?

    @Option(help: "Images per forward pass.")
    var batchSize = 10

    @Option(help: "Surrogate decoder h trained with train-h (default: h.ckpt beside --checkpoint, if present); adds h(g(I)) scores. With --g: a ModelH state dict from `export`.")
    var surrogate: String?

    @Flag(help: "Skip unreadable or unmatched files with a warning instead of stopping.")
    var skipBad = false

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard checkpoint != nil || g != nil else { throw ValidationError("give --checkpoint, --g, or both") }
        if let c = checkpoint, !FileManager.default.fileExists(atPath: c) { throw ValidationError("\(c): checkpoint not found") }
        if let f = g, !FileManager.default.fileExists(atPath: f) { throw ValidationError("\(f): --g file not found") }
        guard !data.isEmpty || split != nil else { throw ValidationError("give at least one --data folder, or --split validation") }
        if let sp = split {
            guard sp == "validation" else { throw ValidationError("--split: only 'validation' is known, got '\(sp)'") }
            guard checkpoint != nil else { throw ValidationError("--split validation needs --checkpoint (its config names the split)") }
        }
        for d in data {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("\(d): dataset folder not found")
            }
        }
        if let s = samCheckpoint, !FileManager.default.fileExists(atPath: s) { throw ValidationError("\(s): SAM checkpoint not found") }
        if let h = surrogate, !FileManager.default.fileExists(atPath: h) { throw ValidationError("\(h): surrogate checkpoint not found") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
        if let n = preciseBN {
            guard n > 0 else { throw ValidationError("--precise-bn N: N must be at least 1, got \(n)") }
            guard checkpoint != nil else { throw ValidationError("--precise-bn needs --checkpoint (its config names the training images)") }
        }
    }

    func run() throws {
        do {
            let context = try ThreadPolicy.context(explicit: threads)
            let (model, config, label, h) = try load(context)
            let sp = selfPrompt.resolve(config)
            if let n = preciseBN {
                let images = PreciseBN.images(try TrainingSplit.load(config).train, count: n, seed: config.train.seed)
                let pipeline = SamplePipeline(sam: model.sam, cache: try EmbeddingCache(directory: cache ?? config.output.cache,
                                                                                     precision: config.output.cachePrecision),
                                              encoderID: try SamplePipeline.encoderID(kind: model.sam.kind, checkpoint: config.model.checkpoint),
                                              generatorSide: model.generatorSide)
                try PreciseBN.recompute(model.generator, pipeline: pipeline, samples: images, batchSize: batchSize)
                print("PreciseBN: g's BatchNorm statistics recomputed over \(images.count) training images")
            }
            var report = try EvaluationRun.run(
                model: model, samCheckpoint: config.model.checkpoint, checkpointPath: label,
                roots: data, skipBad: skipBad, cacheDirectory: cache ?? config.output.cache, cachePrecision: config.output.cachePrecision,
                batchSize: batchSize, surrogate: h, boxBaseline: boxBaseline, selfPrompt: sp) { print($0) }
            if split != nil {
                // The same held-out images training validated on (same seed, fraction and folder).
                let held = try TrainingSplit.load(config).validation
                guard !held.isEmpty else { throw ConfigError(path: label, problem: "the checkpoint's config holds out no validation images") }
                let part = try EvaluationRun.score(
                    [("validation (\(config.data.validation ?? config.data.train))", held)], model: model,
                    samCheckpoint: config.model.checkpoint, checkpointPath: label, cacheDirectory: cache ?? config.output.cache,
                    cachePrecision: config.output.cachePrecision, batchSize: batchSize, surrogate: h, boxBaseline: boxBaseline,
                    selfPrompt: sp) { print($0) }
                report.rows = part.rows + report.rows
                for n in part.notes where !report.notes.contains(n) { report.notes.append(n) }
            }
            try report.write(to: output)
            print(report.table, terminator: "")
            for n in report.notes { print("note: \(n)") }
            if let c = report.selfPromptCount { print(c) }
            print("wrote \(output)/per_image.csv (\(report.rows.count) images), \(output)/summary.md and \(output)/summary.csv")
        } catch {
            FileHandle.standardError.write(Data("autosam-dist eval: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// AutoSAM (and h when there is one) from --checkpoint, or with g from --g.
    private func load(_ context: ExecutionContext) throws -> (AutoSAM, TrainConfig, String, SurrogateModel?) {
        guard let gFile = g else {
            let ck = checkpoint!
            let trained = try TrainedModel.load(ck, samCheckpoint: samCheckpoint, context: context)
            let hPath = SurrogateModel.path(given: surrogate, besideCheckpoint: ck)
            let h = try hPath.map { try SurrogateModel.load($0, generatorCheckpoint: ck, context: context) }
            return (trained.model, trained.config, ck, h)
        }
        let imported = try ImportedGenerator.load(gFile, checkpoint: checkpoint, samCheckpoint: samCheckpoint, context: context)
        for w in imported.report.warnings { print("warning: \(w)") }
        print("g: \(imported.report.tensors) tensors from \(gFile) (\(imported.config.generator.backbone))")
        // An h checkpoint names the g it was trained on; with --g only an exported ModelH file fits.
        let h = try surrogate.map {
            try SurrogateModel.load(stateDict: $0, generator: imported.model.generator, config: imported.config, context: context)
        }
        return (imported.model, imported.config, gFile, h)
    }
}
