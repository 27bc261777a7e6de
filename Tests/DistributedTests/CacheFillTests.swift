import Foundation
import TestSupport
import XCTest

/// The cache fill before training and the validation spread over the ranks, through real
/// mpirun launches (helpers from DataParallelTests).
extension DataParallelTests {
    /// 3 ranks fill an empty cache together (every entry training and validation will read,
    /// once), then validate with batch c on rank c mod 3 — rank 2 gets none of the 2 batches. A
    /// 1-rank run on the full cache encodes nothing and its initial validation Dice, IoU and MAE
    /// equal the 3-rank run's exactly (same parameters, same batches, per-image slots). The MAE
    /// of the probability map is what makes this strict: a random g's Dice is often 0 anywhere.
    /// Validation runs on PreciseBN statistics, which every rank computes alone and rank 0
    /// broadcasts, so they too must be the same on any rank count (and differ from none).
    func testRanksFillTheCacheTogetherAndValidationIsTheSameOnAnyRankCount() throws {
        let data = try data(10)
        let cache = "\(Self.root)/fill-cache"
        func cfg(_ name: String, preciseBN: Int = 5) throws -> String {
            let text = """
            model: {sam: lite_medsam, checkpoint: \(weights!)}
            generator: {backbone: hardnet39ds}
            data: {train: \(data), validation_fraction: 0.4}
            augment: {enabled: true, variants: 2}
            train: {epochs: 1, batch_size: 3, lr: 0.001, precise_bn_images: \(preciseBN)}
            output: {dir: \(Self.root)/\(name), cache: \(cache), cache_precision: float16}
            """
            let path = "\(Self.root)/\(name).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let three = try run(3, ["train", "--config", try cfg("fill3"), "--max-steps", "1"])
        XCTAssertEqual(three.status, 0, three.stdout + three.stderr)
        // 6 training images × 2 variants + 4 validation images.
        XCTAssertTrue(three.stdout.contains("embedding cache: encoded 16 of 16 in"), three.stdout)
        XCTAssertTrue(three.stdout.contains("on 3 rank(s)"), three.stdout)
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasSuffix(".emb") }
        XCTAssertEqual(entries.count, 16)
        let one = try run(1, ["train", "--config", try cfg("fill1"), "--max-steps", "1"])
        XCTAssertEqual(one.status, 0, one.stdout + one.stderr)
        XCTAssertFalse(one.stdout.contains("embedding cache: encoded"), "a full cache encodes nothing:\n" + one.stdout)
        func initial(_ name: String) throws -> String {
            let text = try String(contentsOfFile: "\(Self.root)/\(name)/metrics.jsonl", encoding: .utf8)
            return String(text.split(separator: "\n").first { $0.contains("\"epoch\":0") } ?? "missing")
        }
        let first = try initial("fill1")
        XCTAssertTrue(first.contains("val_mae"), first)
        XCTAssertFalse(first.contains("\"val_mae\":0,"), "a zero MAE would make the comparison empty")
        XCTAssertEqual(try initial("fill3"), first, "initial validation on 3 ranks vs 1")
        let line = one.stdout.split(separator: "\n").first { $0.hasPrefix("epoch 0 (initial)") }
        XCTAssertNotNil(line)
        XCTAssertTrue(three.stdout.contains(String(line ?? "missing")), three.stdout)
        let running = try run(1, ["train", "--config", try cfg("fill1-running", preciseBN: 0), "--max-steps", "1"])
        XCTAssertEqual(running.status, 0, running.stderr)
        XCTAssertNotEqual(try initial("fill1-running"), first, "PreciseBN statistics change the validation scores")
    }
}
