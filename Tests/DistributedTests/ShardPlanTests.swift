import XCTest
@testable import Distributed

final class ShardPlanTests: XCTestCase {
    func testSharesFollowTheGlobalBatch() {
        XCTAssertEqual(ShardPlan(ranks: 4).sizes(batchCount: 10), [2, 3, 2, 3])
        XCTAssertEqual(ShardPlan(ranks: 3).sizes(batchCount: 10), [3, 3, 4])
        XCTAssertEqual(ShardPlan(ranks: 1).sizes(batchCount: 10), [10])
        // A last batch smaller than the rank count leaves empty shards, never a lost sample.
        XCTAssertEqual(ShardPlan(ranks: 4).sizes(batchCount: 3), [0, 1, 1, 1])
        for n in 1...10 {
            for s in 1...6 {
                let plan = ShardPlan(ranks: s)
                let ranges = (0..<s).map { plan.range(batchCount: n, rank: $0) }
                XCTAssertEqual(ranges.first?.lowerBound, 0)
                XCTAssertEqual(ranges.last?.upperBound, n)
                for r in 1..<s { XCTAssertEqual(ranges[r].lowerBound, ranges[r - 1].upperBound, "contiguous, n=\(n) s=\(s)") }
            }
        }
        let batch = [7, 1, 4, 9, 2][1...3]
        XCTAssertEqual(Array(ShardPlan(ranks: 2).shard(batch, rank: 0)), [1])
        XCTAssertEqual(Array(ShardPlan(ranks: 2).shard(batch, rank: 1)), [4, 9])
    }

    func testTheLastPartialBatchIsTrainedUnlessDropped() {
        let order = Array(0..<23)
        XCTAssertEqual(ShardPlan.batches(order, batchSize: 10, dropLast: false).map(\.count), [10, 10, 3])
        XCTAssertEqual(ShardPlan.batches(order, batchSize: 10, dropLast: true).map(\.count), [10, 10])
        XCTAssertEqual(ShardPlan.batches(order, batchSize: 10, dropLast: false).flatMap { $0 }, order)
        XCTAssertEqual(ShardPlan.batches(Array(0..<20), batchSize: 10, dropLast: false).map(\.count), [10, 10])
    }

    func testTimeoutNamesTheRanksBehind() {
        let t = CollectiveTimeout(operation: "MPI_Allreduce(double)", rank: 0, timeout: 5, entered: [42, 41, 42], silentFor: [0, 4.9, 0.3])
        XCTAssertEqual(t.missing, [1])
        XCTAssertTrue(t.description.contains("rank(s) 1 (last entered #41, silent for 4.9 s) stopped answering"), t.description)
        XCTAssertTrue(t.description.contains("#42"), t.description)
        // Entered, but silent for longer than ranks that wait ever are: stopped inside it.
        let inside = CollectiveTimeout(operation: "MPI_Barrier", rank: 1, timeout: 10, entered: [7, 7], silentFor: [9.5, 0])
        XCTAssertEqual(inside.missing, [0])
        XCTAssertTrue(inside.description.contains("0 (stopped inside it, silent for 9.5 s)"), inside.description)
        let stuck = CollectiveTimeout(operation: "MPI_Barrier", rank: 1, timeout: 10, entered: [7, 7], silentFor: [0.2, 0])
        XCTAssertEqual(stuck.missing, [])
        XCTAssertTrue(stuck.description.contains("still answers"), stuck.description)
    }
}
