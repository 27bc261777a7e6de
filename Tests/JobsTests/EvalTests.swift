import Datasets
import Foundation
import Training
import TestSupport
import XCTest
@testable import Jobs

/// `autosam-dist eval` on a tiny synthetic dataset with an untrained checkpoint.
final class EvalTests: XCTestCase {
    func testEvalWritesOneCSVRowPerImageAndASummaryRow() throws {
        let dir = try InferenceTestSupport.tempDir("eval")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try InferenceTestSupport.untrainedCheckpoint(at: dir + "/g.ckpt", cache: dir + "/cache")
        _ = try DemoDataGenerator(size: 80, seed: 1).write(to: dir + "/data", train: 1, test: 3)
        let trained = try TrainedModel.load(dir + "/g.ckpt", context: TestContext.standard)
        let report = try EvaluationRun.run(model: trained.model, samCheckpoint: trained.config.model.checkpoint,
                                           checkpointPath: dir + "/g.ckpt", roots: [dir + "/data/TestDataset"],
                                           skipBad: false, cacheDirectory: dir + "/cache", batchSize: 2)
        try report.write(to: dir + "/out")
        let csv = try String(contentsOfFile: dir + "/out/per_image.csv", encoding: .utf8)
        let lines = csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "dataset,image,dice,iou,mae")
        XCTAssertEqual(lines.count, 4, "one row per test image")
        for line in lines.dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            XCTAssertEqual(f.count, 5)
            XCTAssertEqual(f[0], "Demo")
            for v in f[2...] {
                let x = try XCTUnwrap(Double(v))
                XCTAssertTrue((0...1).contains(x), "\(line)")
            }
        }
        let names = Set(lines.dropFirst().map { $0.split(separator: ",")[1] })
        XCTAssertEqual(names.count, 3)
        let md = try String(contentsOfFile: dir + "/out/summary.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| Demo | 3 |"), md)
        XCTAssertTrue(md.contains("h(g(I))"))
    }

    func testPaperLookupAndTableLayout() {
        // The paper gives no Kvasir-SEG or CVC-ClinicDB figure: no number rather than ColonDB's.
        XCTAssertNil(PaperResults.lookup("TestDataset/Kvasir"))
        XCTAssertNil(PaperResults.lookup("Kvasir-SEG"))
        XCTAssertNil(PaperResults.lookup("TestDataset/CVC-ClinicDB"))
        XCTAssertEqual(PaperResults.lookup("CVC-ColonDB")?.dataset, "CVC-ColonDB")
        XCTAssertEqual(PaperResults.lookup("ETIS-LaribPolypDB")?.dice, 79.7)
        XCTAssertEqual(PaperResults.lookup("GlaS")?.dice, 92.8)
        XCTAssertEqual(PaperResults.lookup("MoNuSeg 2018 Training Data")?.dice, 82.4)
        XCTAssertEqual(PaperResults.lookup("MoNuSeg")?.dice, 82.4)
        XCTAssertEqual(PaperResults.lookup("SUN-SEG/TestEasyDataset")?.dice, 75)
        XCTAssertEqual(PaperResults.lookup("SUN-SEG/TestHardDataset")?.dice, 76)
        XCTAssertNil(PaperResults.lookup("Demo"))
        let r = EvaluationReport(rows: [
            .init(dataset: "CVC-ColonDB", image: "a.png", dice: 0.8, iou: 0.6, mae: 0.1),
            .init(dataset: "CVC-ColonDB", image: "b,c.png", dice: 0.6, iou: 0.4, mae: 0.3),
            .init(dataset: "Kvasir", image: "k.png", dice: 0.5, iou: 0.25, mae: 0.2),
        ], checkpoint: "x.ckpt")
        XCTAssertTrue(r.table.contains("| CVC-ColonDB | 2 | 70.0 ± 10.0 | 50.0 ± 10.0 | 0.2000 | ≈83 |"), r.table)
        XCTAssertTrue(r.table.contains("| Kvasir | 1 | 50.0 ± 0.0 | 25.0 ± 0.0 | 0.2000 | — |"), r.table)
        XCTAssertTrue(r.csv.contains("CVC-ColonDB,\"b,c.png\",0.600000,0.400000,0.300000"))
        XCTAssertEqual(r.summaryCSV, "dataset,n,dice_mean,dice_std,iou_mean,iou_std,mae_mean,paper_dice\n"
                       + "CVC-ColonDB,2,0.700000,0.100000,0.500000,0.100000,0.200000,83\n"
                       + "Kvasir,1,0.500000,0.000000,0.250000,0.000000,0.200000,\n")
        // The box-prompted baseline adds its own columns, and only when scored.
        var boxed = r
        for i in boxed.rows.indices { boxed.rows[i].boxDice = 0.9; boxed.rows[i].boxIoU = 0.8 }
        XCTAssertTrue(boxed.table.contains("| SAM + true box Dice (%) |"), boxed.table)
        XCTAssertTrue(boxed.table.contains("| Kvasir | 1 | 50.0 ± 0.0 | 25.0 ± 0.0 | 0.2000 | 90.0 ± 0.0 | — |"), boxed.table)
        XCTAssertTrue(boxed.csv.hasPrefix("dataset,image,dice,iou,mae,box_dice,box_iou\n"))
        XCTAssertFalse(r.csv.contains("box_dice"))
    }
}
