import ArgumentParser
import Datasets
import Distributed
import Foundation
import Jobs
import Network
import Training

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment images: SAM with a box prompt, or a trained AutoSAM (no prompt) on files and folders.",
        discussion: """
            SAM with a box (original-image pixels), on the embedded LiteMedSAM by default:
              autosam-dist predict --box 120,80,300,260 --output mask.png image.jpg
            AutoSAM from a training checkpoint, one <name>.png per image:
              autosam-dist predict --checkpoint runs/demo/best.ckpt --output masks/ images/ extra.jpg
            Self-prompted AutoSAM (g's mask's box prompts SAM again; see --self-prompt):
              autosam-dist predict --checkpoint runs/demo/best.ckpt --self-prompt --output masks/ images/
            Masks are 0/255 gray PNGs at each image's original size.
            """)

    @Argument(help: "Image files, or folders of images (AutoSAM mode).")
    var images: [String] = []

    @Option(help: "Output: the mask PNG (with --box) or a folder (with --checkpoint).")
    var output: String

    @Option(help: "Box prompt x0,y0,x1,y1 in the image's pixel coordinates (SAM mode).")
    var box: String?

    @Option(help: "An AutoSAM training checkpoint (best.ckpt / last.ckpt): predict with no prompt.")
    var checkpoint: String?

    @Option(help: "SAM model in box mode: lite_medsam, vit_b, vit_l or vit_h.")
    var sam: String = SAMKind.liteMedSAM.rawValue

    @Option(help: "SAM weights (.pth). Default: weights/lite_medsam.pth; with --checkpoint, the path stored in it.")
    var samCheckpoint: String?

    @OptionGroup(title: "Self-prompting (AutoSAM mode)")
    var selfPrompt: SelfPromptFlags

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        switch (box, checkpoint) {
        case (nil, nil): throw ValidationError("give --box (SAM with a box prompt) or --checkpoint (AutoSAM)")
        case (.some, .some): throw ValidationError("--box and --checkpoint exclude each other")
        case (.some(let b), nil):
            guard SAMKind(rawValue: sam) != nil else {
                throw ValidationError("--sam \(sam): expected one of \(SAMKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard images.count == 1 else { throw ValidationError("--box takes exactly one image, got \(images.count)") }
            if selfPrompt.given { throw ValidationError("--self-prompt and its settings need --checkpoint (AutoSAM), not --box") }
            if let s = samCheckpoint, !FileManager.default.fileExists(atPath: s) { throw ValidationError("\(s): SAM checkpoint not found") }
            do {
                let prompt = try BoxPrompt.parse(b)
                let image = try PredictJobs.readImage(images[0])
                try prompt.check(width: image.width, height: image.height)
            } catch let e as InferenceError { throw ValidationError(e.description) }
        case (nil, .some(let c)):
            guard FileManager.default.fileExists(atPath: c) else { throw ValidationError("\(c): checkpoint not found") }
            do { _ = try ImageInputs.expand(images) } catch let e as InferenceError { throw ValidationError(e.description) }
        }
    }

    func run() throws {
        do {
            let context = try ThreadPolicy.context(explicit: threads)
            if let b = box {
                let kind = SAMKind(rawValue: sam)!
                let model = try SAM.load(kind, checkpoint: try PredictJobs.samCheckpoint(samCheckpoint, kind: kind), context: context)
                let mask = try PredictJobs.box(image: images[0], box: try BoxPrompt.parse(b), sam: model, output: output)
                print("wrote \(output) (\(mask.width)×\(mask.height), \(mask.foregroundCount) foreground pixels)")
            } else if let c = checkpoint {
                let trained = try TrainedModel.load(c, samCheckpoint: samCheckpoint, context: context)
                let files = try ImageInputs.expand(images)
                let sp = selfPrompt.resolve(trained.config)
                if let sp { print("self-prompting: \(sp.summary)") }
                let written = try PredictJobs.autoSAM(images: files, model: trained.model, outputDir: output, selfPrompt: sp) { print($0) }
                print("wrote \(written.count) mask(s) to \(output)/")
            }
        } catch {
            FileHandle.standardError.write(Data("autosam-dist predict: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
