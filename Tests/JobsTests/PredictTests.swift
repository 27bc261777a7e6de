import Datasets
import Foundation
import TestSupport
import Training
import XCTest
@testable import Jobs
@testable import Network

/// `autosam-dist predict`: SAM (LiteMedSAM) with a box prompt, and AutoSAM on a folder.
final class PredictTests: XCTestCase {
    /// A 300×200 image (not square: the box must be scaled by 256 / max(H, W)) with a dark
    /// textured disk on a light background; the box encloses the disk with a small margin.
    func testBoxPromptSegmentsTheObjectInsideTheBox() throws {
        let sam = try InferenceTestSupport.liteMedSAM()
        let dir = try InferenceTestSupport.tempDir("predict-box")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = 300, h = 200, cx = 190.0, cy = 90.0, r = 45.0
        var px = [UInt8](repeating: 0, count: w * h * 3)
        var disk = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w {
            let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
            let inside = d <= r
            disk[y * w + x] = inside ? 1 : 0
            let shade = 0.5 + 0.5 * sin(Double(x) * 0.05) * cos(Double(y) * 0.07)
            let rgb: [Double] = inside ? [120 + 30 * shade, 40, 50] : [230 - 20 * shade, 190, 170]
            for c in 0..<3 { px[(y * w + x) * 3 + c] = UInt8(rgb[c]) }
        } }
        let imagePath = dir + "/disk.png", out = dir + "/mask.png"
        try PNGCodec.write(Image(width: w, height: h, channels: 3, pixels: px), to: imagePath)
        let box = BoxPrompt(x0: cx - r - 6, y0: cy - r - 6, x1: cx + r + 6, y1: cy + r + 6)
        try PredictJobs.box(image: imagePath, box: box, sam: sam, output: out)

        let written = try ImageDecoder.read(out, channels: 1)
        XCTAssertEqual(written.width, w)
        XCTAssertEqual(written.height, h)
        XCTAssertTrue(written.pixels.allSatisfy { $0 == 0 || $0 == 255 }, "mask PNG is 0/255")
        let fg = written.pixels.map { UInt8($0 == 255 ? 1 : 0) }
        let count = fg.reduce(0) { $0 + Int($1) }
        XCTAssertGreaterThan(count, 0, "empty mask")
        var inside = 0
        for y in 0..<h { for x in 0..<w where fg[y * w + x] != 0 {
            if Double(x) >= box.x0 - 3, Double(x) <= box.x1 + 3, Double(y) >= box.y0 - 3, Double(y) <= box.y1 + 3 { inside += 1 }
        } }
        XCTAssertGreaterThan(Double(inside) / Double(count), 0.97, "mask must lie inside the box (±3 px)")
        XCTAssertGreaterThan(Metrics.dice(fg, disk), 0.8, "mask should cover the disk")
    }

    func testBoxAndImageErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try BoxPrompt.parse("10,10,5,20")) { XCTAssertTrue("\($0)".contains("x1 must be greater than x0")) }
        XCTAssertThrowsError(try BoxPrompt.parse("10,30,20,20")) { XCTAssertTrue("\($0)".contains("y1 must be greater than y0")) }
        XCTAssertThrowsError(try BoxPrompt.parse("1,2,3")) { XCTAssertTrue("\($0)".contains("four numbers")) }
        XCTAssertThrowsError(try BoxPrompt.parse("a,2,3,4"))
        XCTAssertNoThrow(try BoxPrompt.parse(" 1, 2.5, 30, 40 ").check(width: 30, height: 40))
        XCTAssertThrowsError(try BoxPrompt(x0: 0, y0: 0, x1: 31, y1: 10).check(width: 30, height: 40)) {
            XCTAssertTrue("\($0)".contains("outside the 30×40 image"))
        }
        XCTAssertThrowsError(try BoxPrompt(x0: -1, y0: 0, x1: 10, y1: 10).check(width: 30, height: 40))
        XCTAssertThrowsError(try PredictJobs.readImage("/nonexistent/x.jpg")) { XCTAssertTrue("\($0)".contains("image not found")) }
        let dir = try InferenceTestSupport.tempDir("predict-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: dir + "/notes.jpg"))
        XCTAssertThrowsError(try PredictJobs.readImage(dir + "/notes.jpg")) {
            XCTAssertTrue("\($0)".contains("notes.jpg") && "\($0)".contains("not an image"), "\($0)")
        }
        XCTAssertThrowsError(try ImageInputs.expand([dir])) { XCTAssertTrue("\($0)".contains("no readable image files")) }
        XCTAssertEqual(BoxPrompt.bounding(width: 4, height: 3, pixels: [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0]),
                       BoxPrompt(x0: 1, y0: 1, x1: 2, y1: 2))
        XCTAssertNil(BoxPrompt.bounding(width: 2, height: 1, pixels: [0, 0]))
    }

    /// Real polyp photos with the ground-truth mask's bounding box as the prompt (PyTorch
    /// LiteMedSAM reaches mean Dice 0.92 on these the same way). Required: mean Dice ≥ 0.8.
    func testRealPolypsWithGroundTruthBoxes() throws {
        let root = try TestPaths.sharedSamples() + "/polyp"
        let sam = try InferenceTestSupport.liteMedSAM()
        let predictor = SAMPredictor(sam: sam)
        var dices: [Double] = []
        for ds in try SegmentationDataset.discover(root) {
            for s in ds.samples {
                let image = try ImageDecoder.read(s.imagePath)
                let gt = try MaskLoader.binary(s.maskPath, rule: s.maskRule)
                guard let box = BoxPrompt.bounding(width: gt.width, height: gt.height, pixels: gt.pixels) else { continue }
                let pred = try predictor.segment(image, box: box)
                XCTAssertEqual(pred.width, image.width)
                dices.append(Metrics.dice(pred, gt))
            }
        }
        XCTAssertGreaterThanOrEqual(dices.count, 5)
        let mean = dices.reduce(0, +) / Double(dices.count)
        print("LiteMedSAM with GT boxes on \(dices.count) real polyp images: mean Dice \(String(format: "%.4f", mean)); "
            + dices.map { String(format: "%.3f", $0) }.joined(separator: " "))
        XCTAssertGreaterThanOrEqual(mean, 0.8)
    }

    /// AutoSAM on a folder: one 0/255 PNG per image, named after it, at the image's size.
    func testAutoSAMOnAFolderWritesOneMaskPerImage() throws {
        let dir = try InferenceTestSupport.tempDir("predict-autosam")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try InferenceTestSupport.untrainedCheckpoint(at: dir + "/g.ckpt", cache: dir + "/cache")
        let gen = DemoDataGenerator(size: 96, seed: 3)
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        for i in 0..<2 { try PNGCodec.write(gen.sample(index: UInt64(i)).0, to: dir + "/in/img_\(i).png") }
        let trained = try TrainedModel.load(dir + "/g.ckpt", context: TestContext.standard)
        let files = try ImageInputs.expand([dir + "/in"])
        XCTAssertEqual(files.count, 2)
        let written = try PredictJobs.autoSAM(images: files, model: trained.model, outputDir: dir + "/out")
        XCTAssertEqual(written.map { ($0 as NSString).lastPathComponent }, ["img_0.png", "img_1.png"])
        for f in written {
            let m = try ImageDecoder.read(f, channels: 1)
            XCTAssertEqual([m.width, m.height], [96, 96])
            XCTAssertTrue(m.pixels.allSatisfy { $0 == 0 || $0 == 255 })
        }
    }
}
