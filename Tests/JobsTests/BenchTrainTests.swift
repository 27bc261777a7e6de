import Distributed
import Foundation
import Jobs
import Network
import TestSupport
import XCTest

/// `bench train`'s measurement at a tiny size: every row has the keys the JSON output promises, with positive values.
final class BenchTrainTests: XCTestCase {
    func testMeasurementRowsHaveRequiredKeysAndPositiveValues() throws {
        let checkpoint = try TestPaths.requireLiteMedSAM()
        let threads = ThreadPolicy.resolve(explicit: 1)
        let sam = try SAM.load(.liteMedSAM, checkpoint: checkpoint, context: try ExecutionContext.make(threads: threads))
        let rows = try TrainBenchmark.measure(sam: sam, .init(backbone: "hardnet39ds", batch: 1, threads: threads, repeats: 1))
        XCTAssertEqual(rows.compactMap { $0["name"] as? String }, ["train_step_cold", "train_step_warm", "g_forward_backward"])
        for r in rows {
            XCTAssertEqual(r["batch"] as? Int, 1)
            XCTAssertEqual(r["threads"] as? Int, 1)
            XCTAssertEqual(r["engine"] as? String, "swift")
            for key in ["images_per_s", "peak_rss_mb", "seconds"] {
                let v = try XCTUnwrap(r[key] as? Double, "\(r["name"] ?? "?") lacks \(key)")
                XCTAssertGreaterThan(v, 0, "\(r["name"] ?? "?").\(key)")
            }
            XCTAssertTrue(JSONSerialization.isValidJSONObject(r))
        }
        let g = rows[2]
        for key in ["conv_gflop", "conv_gflops", "sgemm_gflops", "conv_of_sgemm"] {
            XCTAssertGreaterThan(try XCTUnwrap(g[key] as? Double), 0, key)
        }
        // Skipping the encoder must make the step faster.
        XCTAssertGreaterThan(rows[1]["images_per_s"] as! Double, rows[0]["images_per_s"] as! Double)
    }
}
