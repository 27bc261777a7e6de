import Datasets
import Foundation
import Network
import Training
import TestSupport
import XCTest
@testable import Jobs

/// `autosam-dist figures`: panel strips and the training-curve plot.
final class FiguresTests: XCTestCase {
    func testPanelStripHasFivePanelsAndMasksAreBinary() throws {
        let dir = try InferenceTestSupport.tempDir("figures")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try InferenceTestSupport.untrainedCheckpoint(at: dir + "/g.ckpt", cache: dir + "/cache")
        _ = try DemoDataGenerator(size: 64, seed: 2).write(to: dir + "/data", train: 1, test: 2)
        let trained = try TrainedModel.load(dir + "/g.ckpt", context: TestContext.standard)
        let samples = try SegmentationDataset.discover(dir + "/data/TestDataset").flatMap(\.samples)
        let maker = FigureMaker(model: trained.model)
        let image = try ImageDecoder.read(samples[0].imagePath)
        let gt = try MaskLoader.binary(samples[0].maskPath)
        let p = try maker.panels(image: image, groundTruth: gt)
        for m in [p.mz, p.samWithMz, p.samWithGroundTruth] {
            XCTAssertEqual([m.width, m.height], [64, 64])
            XCTAssertTrue(m.pixels.allSatisfy { $0 <= 1 })
        }
        // The mask prompt reaches SAM's decoder: different prompts give different low-res logits.
        // (Their masks are empty on LiteMedSAM, as in PyTorch: MedSAM was trained with box prompts
        // only and answers a mask-only prompt with logits below −13 everywhere.)
        let e = try maker.predictor.sam.encode(image)
        let a = try maker.predictor.sam.lowResLogits(e, maskPrompt: Tensor(shape: [1, 1, 256, 256], repeating: 10))
        let b = try maker.predictor.sam.lowResLogits(e, maskPrompt: Tensor(shape: [1, 1, 256, 256], repeating: -10))
        XCTAssertGreaterThan(zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0, 0.1)
        let files = try maker.write(samples: samples, count: 5, to: dir + "/out")
        XCTAssertEqual(files.count, 2, "no more panels than images")
        let strip = try ImageDecoder.read(files[0])
        // Five 256-pixel-tall square panels with 6-pixel gaps, two-line captions above (name, Dice);
        // below them the 512-pixel-tall overlay (g) with its two-line caption.
        XCTAssertEqual(strip.width, 5 * 256 + 6 * 6)
        XCTAssertEqual(strip.height, (256 + 2 * 18 + 12) + (512 + 2 * 18 + 12))
        // LiteMedSAM: (d) and (e) are box-prompted, and every mask panel carries its Dice.
        XCTAssertEqual(p.prompt, .box)
        XCTAssertEqual(p.row.map { $0.caption.split(separator: "\n").first.map(String.init) ?? "" },
                       ["(A) INPUT", "(B) GT", "(C) MZ", "(D) SAM(BOX OF MZ)", "(E) SAM(BOX OF GT)"])
        XCTAssertEqual(p.row.map { $0.caption.contains("\nDICE ") }, [false, false, true, true, true])
    }

    /// Every character the figures' captions use has a glyph (a blank would drop it silently).
    func testCaptionCharactersHaveGlyphs() {
        let captions = ["(A) INPUT", "(B) GT", "(C) MZ", "(D) SAM(BOX OF MZ)", "(E) SAM(BOX OF GT)", "(D) SAM(MZ AS MASK)",
                        "(E) SAM(GT AS MASK)", "(F) SELF-PROMPT", "(G) YELLOW: SELF-PROMPTED, BLUE: GT", "(G) YELLOW: MZ, BLUE: GT",
                        "DICE 0123456789.%", "H(G(I))", "LOSS", "DICE", "EPOCH", "TRAIN", "VAL",
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:%/+=-()"]
        for c in captions { for ch in c where ch != " " { XCTAssertNotNil(BitmapFont.glyph(ch), "no glyph for '\(ch)' in \(c)") } }
        XCTAssertEqual(FigureMaker.Panels.diceLine(0.84137), "DICE 84.1%")
        XCTAssertEqual(FigureMaker.Panels.diceLine(1), "DICE 100.0%")
    }

    /// A hand-made overlay: outlines are the masks' inner boundaries, the ground truth's on top.
    func testOverlayOutlinesOnASmallImage() {
        let w = 12, h = 10
        let image = Image(width: w, height: h, channels: 1, pixels: [UInt8](repeating: 100, count: w * h))
        func rect(_ xs: ClosedRange<Int>, _ ys: ClosedRange<Int>) -> Mask {
            Mask(width: w, height: h, pixels: (0..<(w * h)).map { xs.contains($0 % w) && ys.contains($0 / w) ? 1 : 0 })
        }
        let pred = rect(2...6, 2...6), gt = rect(4...11, 4...8)   // gt touches the right border: no outline there
        let o = FigureMaker.overlay(image, prediction: pred, groundTruth: gt)
        func color(_ x: Int, _ y: Int) -> [UInt8] { Array(o.pixels[((y * w + x) * 3)..<((y * w + x) * 3 + 3)]) }
        let p = [FigureMaker.predictionColor.r, FigureMaker.predictionColor.g, FigureMaker.predictionColor.b]
        let g = [FigureMaker.groundTruthColor.r, FigureMaker.groundTruthColor.g, FigureMaker.groundTruthColor.b]
        XCTAssertEqual(color(2, 2), p)
        XCTAssertEqual(color(3, 3), [100, 100, 100], "inside the prediction")
        XCTAssertEqual(color(6, 3), p)
        XCTAssertEqual(color(4, 4), g, "the ground truth's corner, drawn over the prediction's inside")
        XCTAssertEqual(color(5, 5), [100, 100, 100], "inside both")
        XCTAssertEqual(color(6, 6), p, "the prediction's corner, inside the ground truth")
        XCTAssertEqual(color(11, 6), [100, 100, 100], "the image border is no boundary")
        XCTAssertEqual(color(10, 8), g)
        XCTAssertEqual(color(0, 0), [100, 100, 100])
    }

    /// With a surrogate decoder, each image also gets the h row: I, h(g(I)), Mz, GT.
    func testSurrogateRowsAreWritten() throws {
        let dir = try InferenceTestSupport.tempDir("figures-h")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try InferenceTestSupport.untrainedCheckpoint(at: dir + "/g.ckpt", cache: dir + "/cache")
        _ = try DemoDataGenerator(size: 64, seed: 4).write(to: dir + "/data", train: 1, test: 1)
        let trained = try TrainedModel.load(dir + "/g.ckpt", context: TestContext.standard)
        var rng = SeededRNG(seed: 1)
        let h = SurrogateModel(config: trained.config, generator: trained.model.generator, decoder: SurrogateDecoder(context: TestContext.standard, rng: &rng))
        let samples = try SegmentationDataset.discover(dir + "/data/TestDataset").flatMap(\.samples)
        let files = try FigureMaker(model: trained.model).write(samples: samples, count: 1, to: dir + "/out", surrogate: h)
        XCTAssertEqual(files.map { ($0 as NSString).lastPathComponent }.sorted(), ["hrow_demo_0000.png", "panels_demo_0000.png"])
        let row = try ImageDecoder.read(files.first { $0.contains("hrow_") }!)
        XCTAssertEqual(row.width, 4 * 256 + 5 * 6, "four panels: I, h(g(I)), Mz, GT")
    }

    func testTrainingCurveFromMetricsLog() throws {
        let dir = try InferenceTestSupport.tempDir("curve")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = """
            {"epoch":0,"val_dice":0.1,"val_iou":0.05}
            {"epoch":1,"train_loss":1.2,"train_dice":0.3,"val_dice":0.35}
            {"epoch":2,"train_loss":0.9,"train_dice":0.5,"val_dice":0.55}
            {"epoch":3,"train_loss":0.7,"train_dice":0.62,"val_dice":0.6}

            """
        try Data(log.utf8).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        let rows = try TrainingCurve.readMetrics(dir + "/metrics.jsonl")
        XCTAssertEqual(rows.count, 4)
        let img = TrainingCurve.render(rows, width: 600, height: 300)
        XCTAssertEqual([img.width, img.height, img.channels], [600, 300, 3])
        // Both series colours appear (lines were drawn), and so does black (axes, ticks, text).
        var colours = Set<[UInt8]>()
        for i in stride(from: 0, to: img.pixels.count, by: 3) { colours.insert(Array(img.pixels[i..<(i + 3)])) }
        XCTAssertTrue(colours.contains([200, 60, 40]))
        XCTAssertTrue(colours.contains([40, 90, 200]))
        XCTAssertTrue(colours.contains([0, 0, 0]))
        try Data("not json\n".utf8).write(to: URL(fileURLWithPath: dir + "/bad.jsonl"))
        XCTAssertThrowsError(try TrainingCurve.readMetrics(dir + "/bad.jsonl")) { XCTAssertTrue("\($0)".contains("line 1")) }
    }

    func testTicksAreNiceValues() {
        XCTAssertEqual(LinePlot.ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { $0 }, accuracy: 1e-9)
        XCTAssertEqual(LinePlot.ticks(0.3, 1.7, target: 4), [0.5, 1.0, 1.5], accuracy: 1e-9)
        XCTAssertEqual(LinePlot.ticks(1, 20, target: 4), [5, 10, 15, 20], accuracy: 1e-9)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(a) vs \(b)", file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}
