import Datasets
import Foundation
import TestSupport
import Training
import XCTest

/// The shipped configs for real data, run the way a user runs them (mpirun on the built
/// binary) on the handful of real pairs in ../shared/data/samples; skipped without that folder.
/// Each config is read as shipped and only what a test must change is overridden: paths, the
/// epoch count, and (named at each place) what would take minutes.
final class RealDataConfigTests: XCTestCase {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("realcfg-\(UUID().uuidString)").path
    var bin: URL!
    var mpirun: String!
    var weights: String!
    var samples: String!

    override func setUpWithError() throws {
        bin = try ProgramRunner.requireBinary()
        guard let m = ProgramRunner.mpirun else { throw XCTSkip("mpirun not installed") }
        mpirun = m
        weights = try TestPaths.requireLiteMedSAM()
        samples = try TestPaths.sharedSamples()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    func run(_ ranks: Int, _ args: [String]) throws -> ProgramRunner.Result {
        try ProgramRunner.run(mpirun, ["-n", "\(ranks)", "--oversubscribe", "-x", "OPENBLAS_NUM_THREADS=1", bin.path] + args, timeout: 900)
    }

    /// Configs/<name>.yaml as shipped, with this test's paths and `edit` applied, written beside the run.
    func config(_ name: String, data: String, edit: (inout TrainConfig) -> Void = { _ in }) throws -> String {
        var cfg = try TrainConfig.load(TestPaths.packageRoot + "/Configs/\(name).yaml")
        cfg.model.checkpoint = weights
        if let p = cfg.generator.pretrained, !p.hasPrefix("/") { cfg.generator.pretrained = TestPaths.packageRoot + "/" + p }
        cfg.data.train = data
        cfg.output.dir = "\(root)/\(name)"
        cfg.output.cache = "\(root)/cache"
        edit(&cfg)
        let path = "\(root)/\(name).yaml"
        try cfg.yaml().write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func losses(_ dir: String) throws -> [Double] {
        try String(contentsOfFile: dir + "/steps.jsonl", encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Double])["loss"]!
        }
    }

    /// Configs/polyp.yaml on 7 real Kvasir and CVC-ClinicDB pairs plus one truncated JPEG, on 2
    /// ranks: the bad pair is named, skipped and counted (data.skip_bad), the loss falls over 8
    /// steps, and the checkpoint evaluates on the validation split, with the box-prompted SAM beside.
    func testPolypConfigTrainsOnRealPairsAndItsCheckpointEvaluates() throws {
        let data = "\(root)/polyp/TrainDataset"
        for sub in ["images", "masks"] { try FileManager.default.createDirectory(atPath: "\(data)/\(sub)", withIntermediateDirectories: true) }
        for set in ["Kvasir", "CVC-ClinicDB"] {
            for sub in ["images", "masks"] {
                for f in try FileManager.default.contentsOfDirectory(atPath: "\(samples!)/polyp/\(set)/\(sub)") {
                    try FileManager.default.copyItem(atPath: "\(samples!)/polyp/\(set)/\(sub)/\(f)", toPath: "\(data)/\(sub)/\(f)")
                }
            }
        }
        let good = try Data(contentsOf: URL(fileURLWithPath: "\(data)/images/12.jpg"))
        try good.prefix(good.count / 3).write(to: URL(fileURLWithPath: "\(data)/images/999.jpg"))
        try FileManager.default.copyItem(atPath: "\(data)/masks/12.jpg", toPath: "\(data)/masks/999.jpg")
        let cfg = try config("polyp", data: data) { c in
            c.train.epochs = 8            // one batch per epoch here: 8 optimiser steps
            c.train.warmupSteps = 0       // the shipped 50-step warm-up would leave 8 steps at a tiny rate
        }
        let r = try run(2, ["train", "--config", cfg])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: skipping \(data)/images/999.jpg (data.skip_bad)"), r.stderr)
        XCTAssertTrue(r.stdout.contains("data.skip_bad: skipped 1 unreadable pair(s) of 8; training on 6, validating on 1"), r.stdout)
        let loss = try losses("\(root)/polyp")
        XCTAssertEqual(loss.count, 8)
        XCTAssertLessThan(loss.last!, loss.first! * 0.9, "loss over the steps: \(loss)")
        let eval = try ProgramRunner.run(bin.path, ["eval", "--checkpoint", "\(root)/polyp/last.ckpt", "--split", "validation",
                                                    "--box-baseline", "--output", "\(root)/eval", "--threads", "1"], timeout: 600)
        XCTAssertEqual(eval.status, 0, eval.stdout + eval.stderr)
        let summary = try String(contentsOfFile: "\(root)/eval/summary.csv", encoding: .utf8)
        let rows = summary.split(separator: "\n")
        XCTAssertTrue(rows[0].contains("box_dice_mean"), summary)
        XCTAssertEqual(rows.count, 2, summary)
        XCTAssertTrue(rows[1].hasPrefix("validation (\(data)),1,"), summary)
        // A box from the true mask on a real polyp: SAM should find most of it.
        let boxDice = Double(rows[1].split(separator: ",")[7])!
        XCTAssertGreaterThan(boxDice, 0.5, summary)
        // What Launch/demo.sh DATA=… runs besides: verify with --data, figures on the validation split.
        let verify = try run(2, ["verify", "--config", cfg, "--data", data, "--steps", "1"])
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        XCTAssertTrue(verify.stdout.contains("PASSED"), verify.stdout)
        let figures = try ProgramRunner.run(bin.path, ["figures", "--checkpoint", "\(root)/polyp/last.ckpt", "--split", "validation",
                                                       "--images", "1", "--output", "\(root)/figures", "--threads", "1"], timeout: 600)
        XCTAssertEqual(figures.status, 0, figures.stdout + figures.stderr)
        let panels = try FileManager.default.contentsOfDirectory(atPath: "\(root)/figures").filter { $0.hasPrefix("panels_") }
        XCTAssertEqual(panels.count, 1, "\(panels)")
    }

    /// Configs/glas.yaml and Configs/monuseg.yaml load and run on their layouts: GlaS as released
    /// (train_*, testA_* and <name>_anno beside each other in one folder; `data.subsets: [train]`
    /// keeps the test groups out of training) and MoNuSeg's TIFF + Aperio XML folders.
    func testGlaSAndMoNuSegConfigsLoadAndRun() throws {
        let glas = "\(root)/GlaS"
        try FileManager.default.createDirectory(atPath: glas, withIntermediateDirectories: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(samples!)/GlaS/images").sorted()
        for (i, f) in names.enumerated() {
            let as_ = i < 2 ? "train_\(i + 1)" : "testA_\(i - 1)"
            try FileManager.default.copyItem(atPath: "\(samples!)/GlaS/images/\(f)", toPath: "\(glas)/\(as_).jpg")
            try FileManager.default.copyItem(atPath: "\(samples!)/GlaS/masks/\(f)", toPath: "\(glas)/\(as_)_anno.jpg")
        }
        // One augmentation variant and one epoch: each variant is an encoder pass per image.
        let g = try run(2, ["train", "--config", try config("glas", data: glas) { $0.augment.variants = 1; $0.train.epochs = 1 }])
        XCTAssertEqual(g.status, 0, g.stdout + g.stderr)
        XCTAssertTrue(g.stdout.contains("on 1 images, validating on 1"), "only the train group (2 of the 3 images): \(g.stdout)")
        let monuseg = "\(samples!)/MoNuSeg/MoNuSeg 2018 Training Data"
        let m = try run(2, ["train", "--config", try config("monuseg", data: monuseg) { $0.augment.variants = 1; $0.train.epochs = 1 }])
        XCTAssertEqual(m.status, 0, m.stdout + m.stderr)
        XCTAssertTrue(m.stdout.contains("on 1 images"), m.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/monuseg/last.ckpt"))
        // A subset name that matches nothing is refused, naming what was found.
        let bad = try run(1, ["train", "--config", try config("glas", data: glas) { $0.data.subsets = ["training"] }])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("data.subsets: no dataset named 'training' here; found"), bad.stderr)
    }
}
