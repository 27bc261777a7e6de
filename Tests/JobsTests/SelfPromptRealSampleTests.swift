import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest
@testable import Jobs

/// Self-prompting on real polyps (../shared/data/samples/polyp; skipped without it or without
/// LiteMedSAM) with a g fitted briefly to those images, so its masks are neither empty nor
/// perfect: the box pass is used or refused exactly as SAM's IoU predictions say, the box is the
/// padded box of g's mask's largest component, and `eval --self-prompt` prints both rows.
final class SelfPromptRealSampleTests: XCTestCase {
    /// The real sample images, a g fitted to them, and their prepared embeddings.
    struct Fixture {
        var dir: String
        var model: AutoSAM
        var generator: PromptGenerator
        var pipeline: SamplePipeline
        var items: [SamplePipeline.Prepared]
        var cache: String { dir + "/cache" }
    }

    nonisolated(unsafe) static var cached: Fixture?
    static let trainingSteps = 10

    /// A hardnet39ds g trained for `trainingSteps` Adam steps (lr 1e-3) on the 7 real polyps as
    /// one batch, then its BatchNorm statistics set to that batch's (PreciseBN over the batch).
    static func fixture() throws -> Fixture {
        if let f = cached { return f }
        let root = try TestPaths.sharedSamples() + "/polyp"
        let sam = try InferenceTestSupport.liteMedSAM()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("selfprompt-\(UUID().uuidString)").path
        let pipeline = SamplePipeline(sam: sam, cache: try EmbeddingCache(directory: dir + "/cache", precision: .float16),
                                      encoderID: try SamplePipeline.encoderID(kind: .liteMedSAM, checkpoint: InferenceTestSupport.weightsPath))
        let samples = try SegmentationDataset.discover(root).flatMap(\.samples)
        let items = try samples.map { try pipeline.prepare($0, augmentation: .identity) }
        var rng = SeededRNG(seed: 5)
        let g = PromptGenerator(variant: HarDNetVariant.named("hardnet39ds")!, context: TestContext.standard, rng: &rng)
        let model = AutoSAM(sam: sam, generator: g)
        var adam = Adam(parameterCount: g.store.count, lr: 1e-3)
        let batch = pipeline.batch(items)
        let start = Date()
        for _ in 0..<trainingSteps {
            g.store.zeroGrads()
            _ = try model.trainStep(images: batch.images, embeddings: batch.embeddings, targets: batch.targets, weight: 1)
            g.store.withMutableValues { adam.update(&$0, grads: g.store.grads) }
        }
        g.store.zeroGrads()
        try PreciseBN.recompute(g, pipeline: pipeline, samples: samples, batchSize: samples.count)
        print("self-prompt fixture: g fitted in \(trainingSteps) steps on \(items.count) real polyps, "
              + String(format: "%.0f s", Date().timeIntervalSince(start)))
        let f = Fixture(dir: dir, model: model, generator: g, pipeline: pipeline, items: items)
        cached = f
        // Shared with FiguresRealSampleTests, so fitted once per test process; its folder goes
        // when the bundle is done.
        XCTestObservationCenter.shared.addTestObserver(RemoveFolderAtEnd(path: dir))
        return f
    }

    /// Dice of low-res probabilities against a prepared sample's label, postprocessed as eval does.
    func dice(_ lowResProbabilities: [Float], _ p: SamplePipeline.Prepared) -> Double {
        let full = Preprocessing.toOriginal(lowResProbabilities, grid: 256, extent: p.extent)
        return Metrics.dice(Mask(width: p.mask.width, height: p.mask.height, pixels: Metrics.binarize(full)), p.mask)
    }

    /// Every image's decision against the IoUs SAM predicts, recomputed here with SAM's own
    /// prompt encoder and mask decoder: g's pass (no sparse prompt, dense g(I)) and the box pass
    /// (the returned box through the box embedding, dense: SAM's no-mask embedding, or g(I)).
    func testRealPolypsBoxPassIsUsedOrRefusedAsSAMsIoUPredictionsSay() throws {
        let f = try Self.fixture()
        let sam = f.model.sam
        let batch = f.pipeline.batch(f.items)
        let predicted = try f.model.predict(images: batch.images, embeddings: batch.embeddings)
        let z = try f.generator.infer(batch.images)
        var used = 0, refused = 0, empty = 0
        // The default, and g's embedding as the box pass's dense prompt.
        for (dense, padding) in [(SelfPromptDense.noMask, 4), (.g, 4)] {
            let outcomes = try SelfPrompt(dense: dense, padding: padding)
                .run(model: f.model, images: batch.images, embeddings: batch.embeddings, extents: f.items.map(\.extent))
            XCTAssertEqual(outcomes.count, f.items.count)
            for (i, (p, o)) in zip(f.items, outcomes).enumerated() {
                // g's pass is AutoSAM's prediction, and its IoU SAM's for that pass.
                XCTAssertEqual(o.generatorLogits.data, predicted.sample(i).data, "g's pass must be AutoSAM.predict's")
                let gPass = try sam.maskDecoder.forward(imageEmbedding: batch.embeddings.sample(i), imagePE: sam.densePE,
                                                        sparse: Tensor(zeros: [1, 0, 256]), dense: z.sample(i), multimaskOutput: false).0
                XCTAssertEqual(o.generatorIoU, gPass.iou.data[0], accuracy: 1e-5)
                let gMask = o.generatorLogits.data.map { UInt8($0 > 0 ? 1 : 0) }
                guard let box = o.box, let boxIoU = o.boxIoU, let boxLogits = o.boxLogits else {
                    XCTAssertNil(SelfPrompt.promptBox(mask: gMask, grid: 256, extent: p.extent, padding: padding), "a box was skipped")
                    XCTAssertFalse(o.usedBox)
                    XCTAssertEqual(o.logits.data, o.generatorLogits.data, "an empty g mask stays")
                    empty += 1
                    continue
                }
                XCTAssertEqual(box, SelfPrompt.promptBox(mask: gMask, grid: 256, extent: p.extent, padding: padding))
                let (sparse, noMask) = try sam.promptEncoder(boxes: Tensor(shape: [1, 4], data: [box.x0, box.y0, box.x1, box.y1].map(Float.init)))
                let boxPass = try sam.maskDecoder.forward(imageEmbedding: batch.embeddings.sample(i), imagePE: sam.densePE, sparse: sparse,
                                                          dense: dense == .g ? z.sample(i) : noMask, multimaskOutput: false).0
                XCTAssertEqual(boxIoU, boxPass.iou.data[0], accuracy: 1e-5)
                XCTAssertEqual(boxLogits.data, boxPass.masks.data, "the box pass is SAM with that box")
                // The rule: the box pass unless SAM predicts a lower IoU for it than for g's pass.
                XCTAssertEqual(o.usedBox, boxIoU >= o.generatorIoU, "decision for \(p.name)")
                XCTAssertEqual(o.logits.data, o.usedBox ? boxLogits.data : o.generatorLogits.data)
                if o.usedBox { used += 1 } else { refused += 1 }
                let gDice = dice(Evaluator.probabilities(o.generatorLogits.data[...], activation: .sigmoid), p)
                let finalDice = dice(o.probabilities(activation: .sigmoid), p)
                let boxDice = dice(Evaluator.probabilities(boxLogits.data[...], activation: .sigmoid), p)
                func f4(_ v: Double) -> String { String(format: "%.4f", v) }
                print("self-prompt (dense \(dense.rawValue), padding \(padding)) \(p.name): box \(box), SAM's predicted IoU g \(f4(Double(o.generatorIoU))), "
                      + "box \(f4(Double(boxIoU))) → \(o.usedBox ? "box used" : "box refused"); "
                      + "Dice g \(f4(gDice)), box pass \(f4(boxDice)), final \(f4(finalDice))")
            }
        }
        print("self-prompt decisions over both settings: \(used) used, \(refused) refused, \(empty) empty g masks")
        XCTAssertGreaterThan(used + refused, 0, "g's masks are all empty: this test measures nothing")
    }

    /// g's mask replaced by a hand-made one on a real polyp's embedding: a large block, a smaller
    /// block and a stray pixel. The box is the large block's, padded and clamped; the box pass is
    /// SAM with that box exactly as `predict --box` prompts it; and both decisions follow the rule.
    func testRealPolypHandMadeMaskGivesTheLargestComponentsPaddedBox() throws {
        let f = try Self.fixture()
        let p = try XCTUnwrap(f.items.first { $0.extent.height < $0.extent.side }, "a Kvasir image (not square)")
        let grid = 256
        let (cw, ch) = SelfPrompt.croppedSize(grid: grid, extent: p.extent)
        XCTAssertGreaterThan(ch, 200)
        var logits = [Float](repeating: -6, count: grid * grid)
        func fill(_ xs: ClosedRange<Int>, _ ys: ClosedRange<Int>) { for y in ys { for x in xs { logits[y * grid + x] = 6 } } }
        fill(90...170, 60...150)                   // 81 × 91: the largest
        fill(cw - 40...cw - 3, ch - 30...ch - 1)   // 38 × 30, touching the bottom of the image
        fill(5...5, 5...5)                         // a stray pixel
        fill(250...255, 250...255)                 // beyond the image (padding): ignored
        let lowRes = Tensor(shape: [1, 1, grid, grid], data: logits)
        let embedding = p.embedding.reshaped([1] + p.embedding.shape)
        let z = try f.generator.infer(f.pipeline.batch([p]).images)
        for (padding, expected) in [(4, PixelBox(x0: 86, y0: 56, x1: 174, y1: 154)), (0, PixelBox(x0: 90, y0: 60, x1: 170, y1: 150)),
                                    (80, PixelBox(x0: 10, y0: 0, x1: min(250, cw - 1), y1: min(230, ch - 1)))] {
            let sp = SelfPrompt(dense: .noMask, padding: padding)
            let refused = try sp.boxPass(model: f.model, generatorLogits: lowRes, generatorIoU: 2, z: z, embedding: embedding, extent: p.extent)
            XCTAssertEqual(refused.box, expected, "padding \(padding)")
            XCTAssertFalse(refused.usedBox, "SAM's IoU prediction is below 2: g's mask is kept")
            XCTAssertEqual(refused.logits.data, logits)
            let used = try sp.boxPass(model: f.model, generatorLogits: lowRes, generatorIoU: -1, z: z, embedding: embedding, extent: p.extent)
            XCTAssertTrue(used.usedBox, "SAM's IoU prediction is above −1: the box pass is used")
            XCTAssertEqual(used.logits.data, used.boxLogits?.data)
            // The same box in original pixels through SAMPredictor (as `predict --box` does): the same mask.
            let s = Double(max(p.extent.originalWidth, p.extent.originalHeight)) / Double(p.extent.side)
            let b = expected
            let viaPredictor = try SAMPredictor(sam: f.model.sam).lowResLogits(
                embedding: embedding, extent: p.extent,
                box: BoxPrompt(x0: Double(b.x0) * s, y0: Double(b.y0) * s, x1: Double(b.x1) * s, y1: Double(b.y1) * s))
            let agree = zip(viaPredictor.data, try XCTUnwrap(used.boxLogits).data).filter { ($0 > 0) == ($1 > 0) }.count
            XCTAssertGreaterThan(Double(agree) / Double(grid * grid), 0.999, "box pass vs SAMPredictor with the same box")
        }
        // An empty g mask keeps g's (empty) mask and makes no box pass.
        let blank = Tensor(shape: [1, 1, grid, grid], data: [Float](repeating: -6, count: grid * grid))
        let none = try SelfPrompt().boxPass(model: f.model, generatorLogits: blank, generatorIoU: 0.1, z: z, embedding: embedding, extent: p.extent)
        XCTAssertNil(none.box)
        XCTAssertNil(none.boxIoU)
        XCTAssertFalse(none.usedBox)
        XCTAssertEqual(none.logits.data, blank.data)
    }

    /// `autosam-dist eval --self-prompt` on the real polyps with the fitted g: the table, the
    /// summary CSV and the per-image CSV carry g alone and self-prompted side by side, and the
    /// box-pass count; `--no-self-prompt` overrides a checkpoint whose config turns it on.
    func testEvalSelfPromptPrintsBothRows() throws {
        let bin = try ProgramRunner.requireBinary()
        let f = try Self.fixture()
        let root = try TestPaths.sharedSamples() + "/polyp"
        for (name, on) in [("off.ckpt", false), ("on.ckpt", true)] {
            var cfg = TrainConfig()
            cfg.generator.backbone = "hardnet39ds"
            cfg.model.checkpoint = InferenceTestSupport.weightsPath
            cfg.output.cache = f.cache
            cfg.inference.selfPrompt = on
            try TrainingCheckpoint(generator: f.generator, config: cfg, adam: Adam(parameterCount: f.generator.store.count),
                                   epoch: 1, step: 1, bestValidationDice: nil, history: []).write(to: f.dir + "/" + name)
        }
        let r = try ProgramRunner.run(bin.path, ["eval", "--checkpoint", f.dir + "/off.ckpt", "--data", root, "--self-prompt",
                                                 "--output", f.dir + "/eval", "--threads", "2"], timeout: 600)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        print(r.stdout)
        XCTAssertTrue(r.stdout.contains("| Dataset | n | Dice (%) | IoU (%) | MAE | Self-prompted Dice (%) | Self-prompted IoU (%) | Box pass used | Paper Dice (%) |"),
                      r.stdout)
        XCTAssertTrue(r.stdout.contains("| CVC-ClinicDB | 5 |"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| Kvasir | 2 |"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Self-prompting used the box pass for "), r.stdout)
        let perImage = try String(contentsOfFile: f.dir + "/eval/per_image.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(perImage.first, "dataset,image,dice,iou,mae,self_dice,self_iou,self_box_used,g_pred_iou,box_pred_iou")
        XCTAssertEqual(perImage.count, 1 + f.items.count)
        // The self-prompted Dice eval reports, computed here from SelfPrompt's outcomes (eval's batches: one per dataset).
        var expected: [String: Double] = [:]
        for part in [f.items.filter { $0.extent.height == $0.extent.side }, f.items.filter { $0.extent.height < $0.extent.side }] {
            let b = f.pipeline.batch(part)
            let outcomes = try SelfPrompt().run(model: f.model, images: b.images, embeddings: b.embeddings, extents: part.map(\.extent))
            for (p, o) in zip(part, outcomes) {
                expected[p.name] = dice(Evaluator.probabilities((o.usedBox ? o.boxLogits! : o.generatorLogits).data[...], activation: .sigmoid), p)
            }
        }
        var usedCount = 0
        for line in perImage.dropFirst() {
            let c = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard c.count == 10 else { XCTFail("expected 10 columns: \(line)"); continue }
            let gDice = try XCTUnwrap(Double(c[2])), selfDice = try XCTUnwrap(Double(c[5])), gIoU = try XCTUnwrap(Double(c[8]))
            if let boxIoU = Double(c[9]) {
                XCTAssertEqual(c[7], boxIoU >= gIoU ? "1" : "0", "the decision follows SAM's predicted IoUs: \(line)")
            } else {
                XCTAssertEqual(c[7], "0", "an empty g mask keeps g's: \(line)")
            }
            if c[7] == "0" { XCTAssertEqual(selfDice, gDice, "g's mask kept: the same score: \(line)") }
            XCTAssertEqual(selfDice, try XCTUnwrap(expected[c[1]]), accuracy: 1e-4, "the self-prompted mask's Dice: \(line)")
            usedCount += c[7] == "1" ? 1 : 0
        }
        let summary = try String(contentsOfFile: f.dir + "/eval/summary.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(summary.first, "dataset,n,dice_mean,dice_std,iou_mean,iou_std,mae_mean,self_dice_mean,self_dice_std,self_iou_mean,self_iou_std,self_box_used,paper_dice")
        XCTAssertEqual(summary.count, 3)
        let usedInSummary = summary.dropFirst().compactMap { row -> Int? in
            let c = row.split(separator: ",", omittingEmptySubsequences: false)
            return c.count == 13 ? Int(c[11]) : nil
        }.reduce(0, +)
        XCTAssertEqual(usedInSummary, usedCount)
        XCTAssertTrue(r.stdout.contains("Self-prompting used the box pass for \(usedCount) of \(f.items.count) image(s)"), r.stdout)

        // The config turns it on; --no-self-prompt turns it off again: g alone, as before.
        let off = try ProgramRunner.run(bin.path, ["eval", "--checkpoint", f.dir + "/on.ckpt", "--data", root, "--no-self-prompt",
                                                   "--output", f.dir + "/eval-off", "--threads", "2"], timeout: 600)
        XCTAssertEqual(off.status, 0, off.stdout + off.stderr)
        XCTAssertFalse(off.stdout.contains("Self-prompted"), off.stdout)
        let on = try ProgramRunner.run(bin.path, ["eval", "--checkpoint", f.dir + "/on.ckpt", "--data", root,
                                                  "--output", f.dir + "/eval-on", "--threads", "2"], timeout: 600)
        XCTAssertEqual(on.status, 0, on.stdout + on.stderr)
        XCTAssertTrue(on.stdout.contains("Self-prompted Dice (%)"), "the config's inference.self_prompt: true: \(on.stdout)")
        XCTAssertEqual(try String(contentsOfFile: f.dir + "/eval-on/per_image.csv", encoding: .utf8), perImage.joined(separator: "\n") + "\n",
                       "the config and the flag give the same scores")
    }

    /// `predict --self-prompt` and `figures --self-prompt` on a real polyp: the written mask is the
    /// box pass's where it was used (g's Mz stays beside it), and the panel strip gains (f).
    func testPredictAndFiguresSelfPrompt() throws {
        let bin = try ProgramRunner.requireBinary()
        let f = try Self.fixture()
        let root = try TestPaths.sharedSamples() + "/polyp/Kvasir"
        let sample = try XCTUnwrap(try SegmentationDataset.discover(root).flatMap(\.samples).first)
        let image = try ImageDecoder.read(sample.imagePath, channels: 3)
        let gt = try MaskLoader.binary(sample.maskPath, rule: sample.maskRule, imageWidth: image.width, imageHeight: image.height)
        let plain = try AutoSAMPredictor(model: f.model).predict(image)
        let p = try AutoSAMPredictor(model: f.model, selfPrompt: SelfPrompt()).predict(image)
        let o = try XCTUnwrap(p.selfPrompt)
        XCTAssertEqual(p.generatorMask, plain.mask, "Mz is g's mask either way")
        XCTAssertEqual(p.lowResLogits.data, plain.lowResLogits.data)
        let boxMask = Mask(width: image.width, height: image.height, pixels: Metrics.binarize(Preprocessing.toOriginal(
            Evaluator.probabilities(try XCTUnwrap(o.boxLogits).data[...], activation: .sigmoid), grid: 256, extent: p.encoded.extent)))
        XCTAssertEqual(p.mask, o.usedBox ? boxMask : plain.mask)
        print("predict --self-prompt \(sample.name): \(PredictJobs.describe(o)); Dice Mz \(Metrics.dice(plain.mask, gt)), "
              + "self-prompted \(Metrics.dice(p.mask, gt))")

        // Through the command line, with a checkpoint of the same g.
        var cfg = TrainConfig()
        cfg.generator.backbone = "hardnet39ds"
        cfg.model.checkpoint = InferenceTestSupport.weightsPath
        cfg.output.cache = f.cache
        try TrainingCheckpoint(generator: f.generator, config: cfg, adam: Adam(parameterCount: f.generator.store.count),
                               epoch: 1, step: 1, bestValidationDice: nil, history: []).write(to: f.dir + "/predict.ckpt")
        let r = try ProgramRunner.run(bin.path, ["predict", "--checkpoint", f.dir + "/predict.ckpt", "--self-prompt", "--output",
                                                 f.dir + "/masks", sample.imagePath, "--threads", "2"], timeout: 600)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("self-prompting: g's mask → largest 8-connected component"), r.stdout)
        XCTAssertTrue(r.stdout.contains("self-prompt: box \(try XCTUnwrap(o.box)) (256² frame) " + (o.usedBox ? "used" : "refused")), r.stdout)
        let written = try ImageDecoder.read(f.dir + "/masks/\(sample.name).png", channels: 1)
        XCTAssertEqual(written.pixels.map { $0 != 0 ? 1 : 0 }, p.mask.pixels)

        // figures: panel (f) beside the paper's five, and its Dice in the log.
        let fig = try ProgramRunner.run(bin.path, ["figures", "--checkpoint", f.dir + "/predict.ckpt", "--data", root, "--images", "1",
                                                   "--self-prompt", "--output", f.dir + "/figures", "--threads", "2"], timeout: 600)
        XCTAssertEqual(fig.status, 0, fig.stdout + fig.stderr)
        XCTAssertTrue(fig.stdout.contains(", self-prompted "), fig.stdout)
        let strip = try ImageDecoder.read(f.dir + "/figures/panels_\(sample.name).png")
        let panel = image.width * 256 / image.height
        XCTAssertEqual(strip.width, 6 * panel + 7 * 6, "six panels: (a)–(e) and (f) self-prompted")
    }
}

/// Removes a folder when the test bundle finishes.
final class RemoveFolderAtEnd: NSObject, XCTestObservation {
    let path: String
    init(path: String) { self.path = path }
    func testBundleDidFinish(_ testBundle: Bundle) { try? FileManager.default.removeItem(atPath: path) }
}
