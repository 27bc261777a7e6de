import Datasets
import Foundation
import TestSupport
import Training
import XCTest

/// `Launch/demo.sh` end to end in a reduced mode (8 tiny images, batch 2 on 2 ranks, 2 epochs,
/// a step checkpoint every step, h for 2 iterations): every promised output exists and is valid,
/// and the resumed run continued from the step checkpoint the interrupted one left.
final class DemoPipelineTests: XCTestCase {
    func testReducedDemoWritesEveryOutputAndResumes() throws {
        let bin = try ProgramRunner.requireBinary()
        let weights = try TestPaths.requireLiteMedSAM()
        guard ProgramRunner.mpirun != nil else { throw XCTSkip("mpirun is not installed") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try ProgramRunner.run(bin.path, ["make-demo-data", "--output", dir + "/data", "--train", "8", "--test", "2", "--size", "64"])
        XCTAssertEqual(made.status, 0, made.stderr)
        try """
        model: {sam: lite_medsam, checkpoint: \(weights)}
        generator: {backbone: hardnet39ds}
        data: {train: \(dir)/data/TrainDataset, validation_fraction: 0.25}
        augment: {enabled: false}
        train: {epochs: 2, batch_size: 2, lr: 0.001}
        output: {dir: \(dir)/unused, cache: \(dir)/cache, checkpoint_every_steps: 1}
        """.write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        let out = dir + "/out"
        let r = try ProgramRunner.run("/bin/bash", [TestPaths.packageRoot + "/Launch/demo.sh"],
                                      environment: ["BIN": bin.path, "CONFIG": dir + "/c.yaml", "OUT": out,
                                                    "DEMO_DATA": dir + "/data", "H_ITERATIONS": "2"], timeout: 1200)
        XCTAssertEqual(r.status, 0, String(r.stdout.suffix(3000)) + String(r.stderr.suffix(2000)))
        XCTAssertTrue(r.stdout.contains("Output folder: \(out)"), String(r.stdout.suffix(500)))

        let fm = FileManager.default
        for f in ["README.md", "eval/summary.md", "eval/summary.csv", "eval/per_image.csv", "figures/training_curve.png",
                  "train/best.ckpt", "train/last.ckpt", "train/h.ckpt", "train/metrics.jsonl", "train/steps.jsonl",
                  "train/trace.json", "logs/verify.log", "logs/train-interrupted.log", "logs/train-resumed.log"] {
            XCTAssertTrue(fm.fileExists(atPath: out + "/" + f), "missing \(f)")
        }
        XCTAssertTrue(try String(contentsOfFile: out + "/logs/verify.log", encoding: .utf8).contains("PASSED"))
        let figures = try fm.contentsOfDirectory(atPath: out + "/figures").filter { $0.hasSuffix(".png") }
        XCTAssertEqual(figures.filter { $0.hasPrefix("panels_") }.count, 2, "\(figures)")
        XCTAssertEqual(figures.filter { $0.hasPrefix("hrow_") }.count, 2, "\(figures)")
        for f in figures {
            let png = try PNGCodec.read(out + "/figures/" + f)
            XCTAssertGreaterThan(png.width * png.height, 0, f)
        }
        let events = try fm.contentsOfDirectory(atPath: out + "/train").filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 2, "one TensorBoard file per run: \(events)")

        let perImage = try csvRows(out + "/eval/per_image.csv")
        XCTAssertEqual(perImage.first, ["dataset", "image", "dice", "iou", "mae", "h_dice", "h_iou"])
        XCTAssertEqual(perImage.count, 3, "a header and one row per test image")
        for row in perImage.dropFirst() {
            for v in row[2...] { XCTAssertTrue((0...1).contains(try XCTUnwrap(Double(v), row.joined(separator: ","))), "\(row)") }
        }
        XCTAssertEqual(try csvRows(out + "/eval/summary.csv").count, 2)

        // The resumed run continued from the interrupted one's step checkpoint, to the end, each step once.
        let resumed = try String(contentsOfFile: out + "/logs/train-resumed.log", encoding: .utf8)
        let from = try XCTUnwrap(resumed.firstMatch(of: /resumed from \S*step-(\d+)\.ckpt/), resumed)
        XCTAssertGreaterThanOrEqual(Int(from.1)!, 1)
        let last = try TrainingCheckpoint.read(out + "/train/last.ckpt").header
        XCTAssertEqual(last.epoch, 2)
        XCTAssertEqual(last.step, 6, "6 training images in batches of 2 for 2 epochs")
        let steps = try String(contentsOfFile: out + "/train/steps.jsonl", encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Double])["step"]
        }
        XCTAssertEqual(steps, (1...6).map(Double.init))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/train/trace.json"))))
    }

    /// The README's two top commands are the ones the scripts (and CI) run.
    func testReadmeTopCommandsAreTheScripts() throws {
        let root = TestPaths.packageRoot
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let block = try XCTUnwrap(readme.components(separatedBy: "```").dropFirst().first, "the README has no code block")
        let commands = block.split(separator: "\n").map { String($0.split(separator: "#", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        XCTAssertEqual(commands, ["bash Launch/setup.sh && bash Launch/demo.sh", "bash Launch/setup.sh && bash Launch/test.sh"])
        for script in ["Launch/setup.sh", "Launch/demo.sh", "Launch/test.sh"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/" + script), script)
        }
        let ci = try String(contentsOfFile: root + "/.ci/run", encoding: .utf8)
        XCTAssertTrue(ci.contains("bash Launch/setup.sh") && ci.contains("bash Launch/test.sh"), ci)
    }

    func csvRows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }
}
