import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest
@testable import Jobs

/// `figures` on the real polyps (../shared/data/samples/polyp; skipped without it or without
/// LiteMedSAM), with the g that SelfPromptRealSampleTests fits briefly to them (so Mz is neither
/// empty nor perfect) and self-prompting on: (d) and (e) are box-prompted and not empty, each
/// caption carries its mask's Dice against the ground truth, and the overlay's outlines lie on
/// the masks' boundaries.
final class FiguresRealSampleTests: XCTestCase {
    struct Item {
        var name: String
        var image: Image
        var groundTruth: Mask
        var panels: FigureMaker.Panels
    }

    nonisolated(unsafe) static var cachedItems: [Item]?

    /// Every real polyp's panels (computed once for the tests below).
    static func items() throws -> (SelfPromptRealSampleTests.Fixture, [Item]) {
        let f = try SelfPromptRealSampleTests.fixture()
        if let c = cachedItems { return (f, c) }
        let maker = FigureMaker(model: f.model, selfPrompt: SelfPrompt())
        let samples = try SegmentationDataset.discover(try TestPaths.sharedSamples() + "/polyp").flatMap(\.samples)
        let items = try samples.map { s -> Item in
            let image = try ImageDecoder.read(s.imagePath, channels: 3)
            let gt = try MaskLoader.binary(s.maskPath, rule: s.maskRule, imageWidth: image.width, imageHeight: image.height)
            return Item(name: s.name, image: image, groundTruth: gt, panels: try maker.panels(image: image, groundTruth: gt))
        }
        cachedItems = items
        return (f, items)
    }

    override class func tearDown() { cachedItems = nil }

    /// "84.1": a Dice as the captions print it, from the test's own Metrics call.
    func percent(_ pred: Mask, _ gt: Mask) -> String { String(format: "%.1f", Metrics.dice(pred, gt) * 100) }

    func testLiteMedSAMPanelsAreBoxPromptedAndCaptionsCarryTheirDice() throws {
        let (f, items) = try Self.items()
        let sam = SAMPredictor(sam: f.model.sam)
        let selfPrompting = AutoSAMPredictor(model: f.model, selfPrompt: SelfPrompt())
        var withMzBox = 0, boxDice: [Double] = []
        let keep = ProcessInfo.processInfo.environment["FIGURES_TEST_OUTPUT"]   // to look at the figures
        for it in items {
            let p = it.panels, gt = it.groundTruth
            XCTAssertEqual(p.prompt, .box, "LiteMedSAM gets box prompts")
            // (e): SAM with the ground truth's bounding box, as `predict --box` / `eval --box-baseline` prompt it.
            let gtBox = try XCTUnwrap(BoxPrompt.bounding(width: gt.width, height: gt.height, pixels: gt.pixels))
            XCTAssertEqual(p.groundTruthBox, gtBox)
            XCTAssertEqual(p.samWithGroundTruth, try sam.segment(it.image, box: gtBox), it.name)
            XCTAssertTrue(p.samWithGroundTruth.pixels.contains(1), "(e) is empty for \(it.name)")
            // A person's box: > 0.6 on each (CVC-ClinicDB 12 is the hard one, 67.7), > 0.7 on all but one.
            XCTAssertGreaterThan(Metrics.dice(p.samWithGroundTruth, gt), 0.6, "(e) SAM(box of GT) on \(it.name)")
            boxDice.append(Metrics.dice(p.samWithGroundTruth, gt))
            // (d): SAM with the box of Mz's largest 8-connected component, unpadded.
            let prediction = try selfPrompting.predict(it.image)
            XCTAssertEqual(p.mz, prediction.generatorMask)
            if let c = ConnectedComponents.largest(p.mz.pixels, width: gt.width, height: gt.height) {
                let box = BoxPrompt(x0: Double(c.box.x0), y0: Double(c.box.y0), x1: Double(c.box.x1), y1: Double(c.box.y1))
                XCTAssertEqual(p.mzBox, box)
                XCTAssertEqual(p.samWithMz, try sam.segment(it.image, box: box), it.name)
                XCTAssertTrue(p.samWithMz.pixels.contains(1), "(d) is empty for \(it.name) although Mz is not")
                withMzBox += 1
            } else {
                XCTAssertNil(p.mzBox)
                XCTAssertFalse(p.samWithMz.pixels.contains(1))
            }
            // Captions: the prompt, and Dice against the ground truth from an independent Metrics call.
            XCTAssertEqual(p.row.map(\.caption), [
                "(A) INPUT", "(B) GT",
                "(C) MZ\nDICE \(percent(prediction.generatorMask, gt))%",
                "(D) SAM(BOX OF MZ)\nDICE \(percent(p.samWithMz, gt))%",
                "(E) SAM(BOX OF GT)\nDICE \(percent(try sam.segment(it.image, box: gtBox), gt))%",
                "(F) SELF-PROMPT\nDICE \(percent(prediction.mask, gt))%",
            ], it.name)
            XCTAssertEqual(p.overlay.caption, "(G) YELLOW: SELF-PROMPTED, BLUE: GT\nDICE \(percent(prediction.mask, gt))%")
            XCTAssertEqual(p.prediction, prediction.mask)
            for c in p.row.map(\.caption) + [p.overlay.caption] {
                for ch in c where ch != " " && ch != "\n" { XCTAssertNotNil(BitmapFont.glyph(ch), "no glyph for '\(ch)'") }
            }
            if let d = keep { try PNGCodec.write(p.strip, to: d + "/panels_\(it.name).png") }
            print("figures \(it.name): Dice Mz \(percent(p.mz, gt)), SAM(box of Mz) \(percent(p.samWithMz, gt)), "
                  + "SAM(box of GT) \(percent(p.samWithGroundTruth, gt)), self-prompted \(percent(prediction.mask, gt)) "
                  + "(box pass \(prediction.selfPrompt?.usedBox == true ? "used" : "refused or none"))")
        }
        XCTAssertGreaterThan(withMzBox, 0, "every Mz is empty: (d) was not tested")
        XCTAssertGreaterThanOrEqual(boxDice.filter { $0 > 0.7 }.count, items.count - 1, "(e) SAM(box of GT): \(boxDice)")
        XCTAssertGreaterThan(boxDice.reduce(0, +) / Double(boxDice.count), 0.85, "(e) SAM(box of GT): \(boxDice)")
        // The figure: (a)–(f) in a row and the overlay below it.
        let strip = items[0].panels.strip
        let panel = items[0].image.width * 256 / items[0].image.height
        XCTAssertEqual(strip.width, 6 * panel + 7 * 6)
        XCTAssertEqual(strip.height, (256 + 2 * 18 + 12) + (512 + 2 * 18 + 12))
    }

    /// Every outline-coloured pixel of the overlay is a boundary pixel of the mask that colour
    /// draws (brute force: a mask pixel with a background pixel of the image within the outline
    /// width), every boundary pixel is drawn, and every other pixel is the input's.
    func testOverlayOutlinesLieOnTheMasksBoundaries() throws {
        let (_, items) = try Self.items()
        let pc = [FigureMaker.predictionColor.r, FigureMaker.predictionColor.g, FigureMaker.predictionColor.b]
        let gc = [FigureMaker.groundTruthColor.r, FigureMaker.groundTruthColor.g, FigureMaker.groundTruthColor.b]
        for it in items {
            let w = it.image.width, h = it.image.height
            let o = it.panels.overlay.image
            XCTAssertEqual([o.width, o.height, o.channels], [w, h, 3])
            let t = FigureMaker.outlineWidth(width: w, height: h)
            func isBoundary(_ m: Mask, _ x: Int, _ y: Int) -> Bool {
                guard m.pixels[y * w + x] != 0 else { return false }
                for yy in max(0, y - t)...min(h - 1, y + t) { for xx in max(0, x - t)...min(w - 1, x + t) where m.pixels[yy * w + xx] == 0 {
                    return true
                } }
                return false
            }
            var drawn = (prediction: 0, groundTruth: 0), wrong = 0
            for y in 0..<h { for x in 0..<w {
                let i = (y * w + x) * 3
                let px = Array(o.pixels[i..<(i + 3)]), input = Array(it.image.pixels[i..<(i + 3)])
                let onGT = isBoundary(it.groundTruth, x, y), onPred = isBoundary(it.panels.prediction, x, y)
                if onGT {
                    if px != gc { wrong += 1 }
                    drawn.groundTruth += 1
                } else if onPred {
                    if px != pc { wrong += 1 }
                    drawn.prediction += 1
                } else if px != input {
                    wrong += 1
                }
            } }
            XCTAssertEqual(wrong, 0, "\(it.name): pixels where the overlay is not the input, the prediction's outline (yellow) or the ground truth's (blue)")
            XCTAssertGreaterThan(drawn.groundTruth, 0, it.name)
            if it.panels.prediction.pixels.contains(1) { XCTAssertGreaterThan(drawn.prediction, 0, it.name) }
        }
    }
}
