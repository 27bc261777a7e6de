import Foundation
import TestSupport
import XCTest

/// `bench dist` launches mpirun itself for each rank count: one row per count, shards as
/// training splits them, the gradient buffer's size, and shares of the step that are shares.
final class BenchDistTests: XCTestCase {
    func testRowsForOneAndTwoRanks() throws {
        let bin = try ProgramRunner.requireBinary()
        guard ProgramRunner.mpirun != nil else { throw XCTSkip("mpirun not installed") }
        let checkpoint = try TestPaths.requireLiteMedSAM()
        let r = try ProgramRunner.run(bin.path, ["bench", "dist", "--checkpoint", checkpoint, "--backbone", "hardnet39ds",
                                                 "--batch", "3", "--ranks", "1,2", "--repeats", "1", "--no-reference", "--json"],
                                      timeout: 600)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(rows.compactMap { $0["ranks"] as? Int }, [1, 2])
        XCTAssertEqual(rows.compactMap { $0["shard_sizes"] as? [Int] }, [[3], [1, 2]])
        let megabytes = rows.compactMap { $0["allreduce_mb"] as? Double }
        XCTAssertEqual(megabytes.count, 2)
        XCTAssertEqual(megabytes[0], megabytes[1])
        XCTAssertGreaterThan(megabytes[0], 1)
        for row in rows {
            XCTAssertEqual(row["name"] as? String, "dp_step")
            XCTAssertGreaterThan(try XCTUnwrap(row["images_per_s"] as? Double), 0)
            for key in ["allreduce_share", "allreduce_share_min", "syncbn_share", "syncbn_share_min"] {
                let v = try XCTUnwrap(row[key] as? Double, key)
                XCTAssert(v >= 0 && v < 1, "\(key) = \(v)")
            }
            // Every BatchNorm layer joins SyncBatchNorm's sums, forward and backward.
            XCTAssertGreaterThan(try XCTUnwrap(row["syncbn_collectives"] as? Int), 20)
        }
        // One rank has nothing to all-reduce (what is left is the clock's own cost).
        XCTAssertLessThan(try XCTUnwrap(rows[0]["allreduce_share"] as? Double), 1e-4)
        XCTAssertGreaterThan(try XCTUnwrap(rows[1]["allreduce_s"] as? Double), 0)
    }
}
