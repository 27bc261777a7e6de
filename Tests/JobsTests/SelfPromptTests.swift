import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest
@testable import Jobs

/// Self-prompting's pure parts on hand-made masks: connected components (8-connectivity), the
/// largest one's box, its padding and clamping, the crop to the image's part of the grid, g's
/// mask threshold and the decision rule.
final class SelfPromptTests: XCTestCase {
    /// A 12 × 10 mask (rows top to bottom):
    /// - A: a 3×3 block at x 2…4, y 2…4 with a diagonal tail (5,5), (6,6): 11 pixels, but only
    ///   9 of them are 4-connected;
    /// - B: a 2×5 block at x 9…10, y 4…8: 10 pixels;
    /// - a stray pixel at (0, 9).
    /// With 8-connectivity A (11) is the largest; with 4-connectivity it would be B (10).
    static let width = 12, height = 10
    static var twoComponentsAndAStray: [UInt8] {
        var m = [UInt8](repeating: 0, count: width * height)
        func set(_ x: Int, _ y: Int) { m[y * width + x] = 1 }
        for y in 2...4 { for x in 2...4 { set(x, y) } }
        set(5, 5); set(6, 6)
        for y in 4...8 { for x in 9...10 { set(x, y) } }
        set(0, 9)
        return m
    }

    func testComponentsUseEightConnectivity() {
        let cs = ConnectedComponents.components(Self.twoComponentsAndAStray, width: Self.width, height: Self.height)
        XCTAssertEqual(cs.map(\.size), [11, 10, 1], "A with its diagonal tail, B, the stray pixel (raster order of first pixels)")
        XCTAssertEqual(cs.map(\.box), [PixelBox(x0: 2, y0: 2, x1: 6, y1: 6), PixelBox(x0: 9, y0: 4, x1: 10, y1: 8),
                                       PixelBox(x0: 0, y0: 9, x1: 0, y1: 9)])
        XCTAssertEqual(ConnectedComponents.largest(Self.twoComponentsAndAStray, width: Self.width, height: Self.height)?.box,
                       PixelBox(x0: 2, y0: 2, x1: 6, y1: 6))
        XCTAssertNil(ConnectedComponents.largest([UInt8](repeating: 0, count: 6), width: 3, height: 2))
        // Equal sizes: the first in raster order.
        XCTAssertEqual(ConnectedComponents.largest([0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1], width: 4, height: 3)?.box,
                       PixelBox(x0: 1, y0: 0, x1: 1, y1: 0))
        // Non-zero values other than 1 are foreground too.
        XCTAssertEqual(ConnectedComponents.components([255, 0, 0, 7], width: 2, height: 2).map(\.size), [2])
    }

    func testPromptBoxIsThePaddedBoxOfTheLargestComponent() {
        let m = Self.twoComponentsAndAStray, w = Self.width, h = Self.height
        XCTAssertEqual(SelfPrompt.promptBox(mask: m, width: w, height: h, padding: 0), PixelBox(x0: 2, y0: 2, x1: 6, y1: 6))
        XCTAssertEqual(SelfPrompt.promptBox(mask: m, width: w, height: h, padding: 1), PixelBox(x0: 1, y0: 1, x1: 7, y1: 7))
        // Clamped to the image: indices 0…11 × 0…9.
        XCTAssertEqual(SelfPrompt.promptBox(mask: m, width: w, height: h, padding: 4), PixelBox(x0: 0, y0: 0, x1: 10, y1: 9))
        XCTAssertEqual(SelfPrompt.promptBox(mask: m, width: w, height: h, padding: 100), PixelBox(x0: 0, y0: 0, x1: 11, y1: 9))
        XCTAssertNil(SelfPrompt.promptBox(mask: [UInt8](repeating: 0, count: w * h), width: w, height: h, padding: 4))
        XCTAssertEqual(PixelBox(x0: 9, y0: 4, x1: 10, y1: 8).padded(by: 2, width: w, height: h), PixelBox(x0: 7, y0: 2, x1: 11, y1: 9))
    }

    /// Only the image's part of the low-res grid counts: a 100 × 50 image fills the top 8 × 4 of
    /// an 8 × 8 grid; a larger blob in the padding below is ignored and the box stays inside.
    func testPromptBoxIgnoresThePaddingBelowTheImage() {
        let extent = ResizedExtent(originalWidth: 100, originalHeight: 50, side: 8)
        XCTAssertEqual([extent.width, extent.height], [8, 4])
        var grid = [UInt8](repeating: 0, count: 64)
        for y in 5...7 { for x in 0...7 { grid[y * 8 + x] = 1 } }     // 24 pixels, all in the padding
        grid[2 * 8 + 3] = 1; grid[3 * 8 + 4] = 1                      // 2 pixels in the image, diagonal
        XCTAssertEqual(SelfPrompt.promptBox(mask: grid, grid: 8, extent: extent, padding: 1), PixelBox(x0: 2, y0: 1, x1: 5, y1: 3))
        // A tall image fills the left half of SAM's input, so the left half of the grid.
        let tall = ResizedExtent(originalWidth: 40, originalHeight: 80, side: 256)
        XCTAssertEqual(SelfPrompt.croppedSize(grid: 8, extent: tall).width, 4)
        XCTAssertEqual(SelfPrompt.croppedSize(grid: 8, extent: tall).height, 8)
    }

    func testGeneratorMaskAndDecisionRule() {
        XCTAssertEqual(SelfPrompt.generatorMask([-1, 0, 0.5, 3], activation: .sigmoid), [0, 0, 1, 1], "logit > 0")
        XCTAssertEqual(SelfPrompt.generatorMask([0, 1, 2, 1.5], activation: .minMax), [0, 0, 1, 1], "min-max > 0.5")
        // The box pass is used unless SAM predicts a lower IoU for it than for g's pass.
        XCTAssertFalse(SelfPrompt.usesBox(generatorIoU: 0.8, boxIoU: 0.79))
        XCTAssertTrue(SelfPrompt.usesBox(generatorIoU: 0.8, boxIoU: 0.8))
        XCTAssertTrue(SelfPrompt.usesBox(generatorIoU: 0.5, boxIoU: 0.9))
    }

    func testSettingsFromTheInferenceSection() {
        var c = InferenceConfig()
        XCTAssertNil(SelfPrompt(c), "off by default")
        c.selfPrompt = true
        XCTAssertEqual(SelfPrompt(c)?.padding, 4)
        XCTAssertEqual(SelfPrompt(c)?.dense, .noMask)
        let o = c.overridden(selfPrompt: nil, dense: .g, padding: 7)
        XCTAssertEqual([SelfPrompt(o)?.padding], [7])
        XCTAssertEqual(SelfPrompt(o)?.dense, .g)
        XCTAssertNil(SelfPrompt(o.overridden(selfPrompt: false)), "--no-self-prompt wins over the config")
        XCTAssertNotNil(SelfPrompt(InferenceConfig().overridden(selfPrompt: true)), "--self-prompt wins over the config")
    }

    /// The evaluation report's self-prompted columns: per image (scores, decision, SAM's IoU
    /// predictions), per dataset (mean ± std, box passes used of n) and the count line.
    func testReportCarriesGAloneAndSelfPromptedSideBySide() {
        var r = EvaluationReport(rows: [
            .init(dataset: "Kvasir", image: "a.png", dice: 0.6, iou: 0.5, mae: 0.1),
            .init(dataset: "Kvasir", image: "b.png", dice: 0.8, iou: 0.7, mae: 0.1),
            .init(dataset: "Kvasir", image: "c.png", dice: 0, iou: 0, mae: 0.2),
        ], checkpoint: "g.ckpt")
        XCTAssertNil(r.selfPromptCount)
        XCTAssertFalse(r.table.contains("Self-prompted"))
        r.rows[0].selfDice = 0.9; r.rows[0].selfIoU = 0.8; r.rows[0].selfUsedBox = true
        r.rows[0].generatorPredictedIoU = 0.7; r.rows[0].boxPredictedIoU = 0.9
        r.rows[1].selfDice = 0.8; r.rows[1].selfIoU = 0.7; r.rows[1].selfUsedBox = false
        r.rows[1].generatorPredictedIoU = 0.8; r.rows[1].boxPredictedIoU = 0.75
        r.rows[2].selfDice = 0; r.rows[2].selfIoU = 0; r.rows[2].selfUsedBox = false; r.rows[2].generatorPredictedIoU = 0.2
        XCTAssertTrue(r.table.contains("| Dataset | n | Dice (%) | IoU (%) | MAE | Self-prompted Dice (%) | Self-prompted IoU (%) | Box pass used | Paper Dice (%) |"), r.table)
        XCTAssertTrue(r.table.contains("| Kvasir | 3 | 46.7 ± 34.0 | 40.0 ± 29.4 | 0.1333 | 56.7 ± 40.3 | 50.0 ± 35.6 | 1 of 3 | — |"), r.table)
        XCTAssertTrue(r.csv.hasPrefix("dataset,image,dice,iou,mae,self_dice,self_iou,self_box_used,g_pred_iou,box_pred_iou\n"), r.csv)
        XCTAssertTrue(r.csv.contains("Kvasir,a.png,0.600000,0.500000,0.100000,0.900000,0.800000,1,0.700000,0.900000\n"), r.csv)
        XCTAssertTrue(r.csv.contains("Kvasir,c.png,0.000000,0.000000,0.200000,0.000000,0.000000,0,0.200000,\n"), r.csv)
        XCTAssertTrue(r.summaryCSV.hasPrefix("dataset,n,dice_mean,dice_std,iou_mean,iou_std,mae_mean,self_dice_mean,self_dice_std,"
                                             + "self_iou_mean,self_iou_std,self_box_used,paper_dice\n"), r.summaryCSV)
        XCTAssertTrue(r.summaryCSV.hasSuffix(",1,\n"), r.summaryCSV)
        XCTAssertEqual(r.selfPromptCount, "Self-prompting used the box pass for 1 of 3 image(s); g's mask was kept for 1 whose box pass "
                       + "SAM predicted a lower IoU for, and 1 with an empty g mask.")
        XCTAssertTrue(r.markdown.contains("- Self-prompting used the box pass for 1 of 3"), r.markdown)
    }
}
