import ArgumentParser
import Distributed
import Foundation
import Jobs
import Network

struct TrainH: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-h",
        abstract: "Train the surrogate decoder h on a frozen g: h(g(I)) → 256² mask logits, as in the AutoSAM authors' ModelH.",
        discussion: """
            g is loaded from an AutoSAM training checkpoint and frozen (evaluation mode, no \
            gradients; its output per image is computed once and kept in memory). Data, split and \
            loss activation come from the config stored in that checkpoint. SAM is not needed.
            Example: autosam-dist train-h --checkpoint runs/demo/best.ckpt --output runs/demo/h.ckpt
            """)

    @Option(help: "AutoSAM training checkpoint holding g (best.ckpt or last.ckpt).")
    var checkpoint: String

    @Option(help: "Training image/mask folder, e.g. demo-data/TrainDataset (overrides the stored config's data.train; validation_fraction then holds out part of it).")
    var data: String?

    @Option(help: "Adam steps (the paper's limit is 60).")
    var iterations = 60

    @Option(help: "Images per step (capped at the training set's size).")
    var batch = 24

    @Option(help: "Adam learning rate.")
    var lr: Float = 3e-4

    @Option(help: "Adam weight decay (L2 added to the gradient, as torch.optim.Adam).")
    var weightDecay: Float = 1e-5

    @Option(help: "Where to write h's checkpoint (default: h.ckpt next to --checkpoint).")
    var output: String?

    @Option(help: "Seed for h's initialisation and batch sampling (default: the config's train.seed).")
    var seed: UInt64?

    @Option(help: "Compute threads (default: OPENBLAS_NUM_THREADS, else all cores).")
    var threads: Int?

    @Option(help: "Convolution engine: onednn, reference or auto (default: AUTOSAM_CONV_ENGINE, else auto).")
    var convEngine: String?

    func validate() throws {
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw ValidationError("\(checkpoint): checkpoint not found") }
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if !(lr > 0) { throw ValidationError("--lr must be positive") }
        if weightDecay < 0 { throw ValidationError("--weight-decay must not be negative") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        do {
            let context = try ThreadPolicy.context(explicit: threads, engine: convEngine)
            var o = SurrogateOptions()
            o.iterations = iterations
            o.batchSize = batch
            o.lr = lr
            o.weightDecay = weightDecay
            o.seed = seed
            o.data = data
            o.output = output ?? ((checkpoint as NSString).deletingLastPathComponent as NSString).appendingPathComponent("h.ckpt")
            try SurrogateTrainer(generatorCheckpoint: checkpoint, options: o, context: context).run()
        } catch {
            FileHandle.standardError.write(Data("autosam-dist train-h: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
