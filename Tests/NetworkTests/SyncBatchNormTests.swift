import Foundation
import XCTest
@testable import Network

/// Sums in-process between replicas running on separate threads (a stand-in for MPI).
final class ThreadGroupReducer: @unchecked Sendable {
    let size: Int
    private let lock = NSCondition()
    private var pending: [Double] = []
    private var arrived = 0, generation = 0, result: [Double] = []
    init(size: Int) { self.size = size }

    final class Member: BatchStatisticsReducer {
        let group: ThreadGroupReducer
        init(_ g: ThreadGroupReducer) { group = g }
        func sum(_ values: inout [Double]) throws { values = group.allReduce(values) }
    }

    func allReduce(_ v: [Double]) -> [Double] {
        lock.lock(); defer { lock.unlock() }
        let gen = generation
        if arrived == 0 { pending = v } else { for i in v.indices { pending[i] += v[i] } }
        arrived += 1
        if arrived == size {
            result = pending; arrived = 0; generation += 1
            lock.broadcast()
        } else {
            while gen == generation { lock.wait() }
        }
        return result
    }
}

final class Identity: BatchStatisticsReducer { func sum(_ values: inout [Double]) throws {} }

final class SyncBatchNormTests: XCTestCase {
    /// One replica: the same values and gradients as BatchNorm2D (max relative error ≤ 1e-5).
    func testSingleReplicaMatchesBatchNorm() throws {
        var rng = SeededRNG(seed: 21)
        let x = Tensor.randn([3, 4, 5, 7], rng: &rng, scale: 2)
        let g = Tensor.randn([4], rng: &rng), b = Tensor.randn([4], rng: &rng)
        var m1 = [Float](repeating: 0, count: 4), v1 = [Float](repeating: 1, count: 4)
        var m2 = m1, v2 = v1
        let ref = BatchNorm2D.trainForward(x, gamma: g, beta: b, runningMean: &m1, runningVar: &v1)
        let syn = try SyncBatchNorm2D.trainForward(x, gamma: g, beta: b, runningMean: &m2, runningVar: &v2, reducer: Identity())
        XCTAssertLessThan(maxRelativeError(syn.y, ref.y), 1e-5)
        XCTAssertLessThan(maxRelativeError(Tensor(shape: [4], data: v2), Tensor(shape: [4], data: v1)), 1e-5)
        let dy = Tensor.randn(x.shape, rng: &rng)
        let rb = BatchNorm2D.trainBackward(dy, input: x, gamma: g, stats: ref.stats)
        let sb = try SyncBatchNorm2D.trainBackward(dy, input: x, gamma: g, stats: syn.stats, count: syn.count, reducer: Identity())
        XCTAssertLessThan(maxRelativeError(sb.dx, rb.dx), 1e-4)
        XCTAssertLessThan(maxRelativeError(sb.dGamma, rb.dGamma), 1e-5)
        XCTAssertLessThan(maxRelativeError(sb.dBeta, rb.dBeta), 1e-5)
    }

    /// A batch split over two replicas gives the full batch's output and input gradient, and
    /// the replicas' parameter gradients sum to the full batch's.
    func testTwoReplicasEqualTheFullBatch() throws {
        var rng = SeededRNG(seed: 22)
        let x = Tensor.randn([4, 3, 6, 5], rng: &rng, scale: 1.5)
        let dy = Tensor.randn(x.shape, rng: &rng)
        let g = Tensor.randn([3], rng: &rng), b = Tensor.randn([3], rng: &rng)
        var m = [Float](repeating: 0, count: 3), v = [Float](repeating: 1, count: 3)
        let full = try SyncBatchNorm2D.trainForward(x, gamma: g, beta: b, runningMean: &m, runningVar: &v, reducer: Identity())
        let fullB = try SyncBatchNorm2D.trainBackward(dy, input: x, gamma: g, stats: full.stats, count: full.count, reducer: Identity())
        let group = ThreadGroupReducer(size: 2)
        /// The two replicas' results, written by their threads under the lock.
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var outs = [Tensor?](repeating: nil, count: 2), dxs = [Tensor?](repeating: nil, count: 2)
            var dgs = [Tensor?](repeating: nil, count: 2), runVars = [[Float]](repeating: [], count: 2)
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 2) { r in
            let red = ThreadGroupReducer.Member(group)
            let xs = Shape.slice(x, axis: 0, range: (2 * r)..<(2 * r + 2)), dys = Shape.slice(dy, axis: 0, range: (2 * r)..<(2 * r + 2))
            var mm = [Float](repeating: 0, count: 3), vv = [Float](repeating: 1, count: 3)
            let f = try! SyncBatchNorm2D.trainForward(xs, gamma: g, beta: b, runningMean: &mm, runningVar: &vv, reducer: red)
            let bk = try! SyncBatchNorm2D.trainBackward(dys, input: xs, gamma: g, stats: f.stats, count: f.count, reducer: red)
            results.lock.lock()
            results.outs[r] = f.y; results.dxs[r] = bk.dx; results.dgs[r] = bk.dGamma; results.runVars[r] = vv
            results.lock.unlock()
        }
        let (outs, dxs, dgs, runVars) = (results.outs, results.dxs, results.dgs, results.runVars)
        XCTAssertLessThan(maxRelativeError(Shape.concat([outs[0]!, outs[1]!], axis: 0), full.y), 1e-5)
        XCTAssertLessThan(maxRelativeError(Shape.concat([dxs[0]!, dxs[1]!], axis: 0), fullB.dx), 1e-5)
        XCTAssertLessThan(maxRelativeError(Elementwise.add(dgs[0]!, dgs[1]!), fullB.dGamma), 1e-5)
        XCTAssertEqual(runVars[0], runVars[1])
        XCTAssertLessThan(maxRelativeError(Tensor(shape: [3], data: runVars[0]), Tensor(shape: [3], data: v)), 1e-6)
    }

    /// A failed collective in g's SyncBatchNorm is an error thrown out of g's forward or
    /// backward (naming the layer and the phase), not a stop of the process.
    func testFailedCollectiveThrowsOutOfG() throws {
        /// Sums nothing (one replica); fails from call `failFrom` on.
        final class Flaky: BatchStatisticsReducer {
            struct Gone: Error, CustomStringConvertible { var description: String { "replica gone" } }
            var calls = 0, failFrom = Int.max
            func sum(_ values: inout [Double]) throws {
                calls += 1
                if calls >= failFrom { throw Gone() }
            }
        }
        var rng = SeededRNG(seed: 4)
        let g = PromptGenerator(variant: PromptGeneratorGradTests.tiny(depthwise: false), embeddingChannels: 8, outputSize: 12,
                                context: TestContexts.reference, rng: &rng)
        let reducer = Flaky()
        g.buffers.statisticsReducer = reducer
        let x = analyticImage(2, 3, 64, 64)
        let (z, cache) = try g.forward(x, training: true)
        let perPass = reducer.calls
        try g.backward(Tensor(shape: z.shape, repeating: 1), cache)
        XCTAssertEqual(reducer.calls, 2 * perPass, "one collective per BatchNorm in forward and in backward")

        reducer.calls = 0
        reducer.failFrom = 1
        XCTAssertThrowsError(try g.forward(x, training: true)) { e in
            guard let s = e as? SyncBatchNormError else { return XCTFail("not a SyncBatchNormError: \(e)") }
            XCTAssertEqual(s.phase, "statistics")
            XCTAssertEqual(s.layer, "backbone.base.0.norm")
            XCTAssertTrue("\(e)".contains("replica gone"), "\(e)")
        }

        reducer.calls = 0
        reducer.failFrom = perPass + 1
        let (z2, cache2) = try g.forward(x, training: true)
        XCTAssertThrowsError(try g.backward(Tensor(shape: z2.shape, repeating: 1), cache2)) { e in
            guard let s = e as? SyncBatchNormError else { return XCTFail("not a SyncBatchNormError: \(e)") }
            XCTAssertEqual(s.phase, "gradient")
            XCTAssertTrue(s.layer.hasPrefix("decoder."), s.layer)
        }
    }
}
