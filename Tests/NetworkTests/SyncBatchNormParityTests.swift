import Foundation
import XCTest
@testable import Network

/// SyncBatchNorm over the shards of a batch against PyTorch's BatchNorm2d over the whole batch
/// (Tools/reference/fixtures_sync_bn.py, float64): forward output, running statistics, input
/// and parameter gradients. The shards follow the trainer's rule (rank r of s takes
/// [n·r/s, n·(r+1)/s)), so 5 samples over 6 replicas leaves replica 0 with none; it still
/// takes part in every sum.
final class SyncBatchNormParityTests: XCTestCase {
    func testShardsMatchPyTorchBatchNormOverTheWholeBatch() throws {
        let f = try Fixture("sync_batchnorm")
        let x = f["x"], dy = f["dy"], gamma = f["gamma"], beta = f["beta"], n = x.shape[0], c = x.shape[1]
        let mean0 = f["running_mean_before"].data, var0 = f["running_var_before"].data
        var worst: [String: Float] = [:]
        /// Each replica's results, written under the lock by its own thread.
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var ys: [Tensor?], dxs: [Tensor?], dgs: [Tensor?], dbs: [Tensor?], means: [[Float]], vars: [[Float]]
            init(_ k: Int) {
                ys = Array(repeating: nil, count: k); dxs = ys; dgs = ys; dbs = ys
                means = Array(repeating: [], count: k); vars = means
            }
        }
        for replicas in [1, 2, 3, 4, 6] {
            let group = ThreadGroupReducer(size: replicas)
            let results = Results(replicas)
            // One thread per replica: each waits in the sums for all the others, so they must all
            // run at once (concurrentPerform runs only as many as there are cores).
            let done = DispatchGroup()
            for r in 0..<replicas {
                done.enter()
                Thread {
                    defer { done.leave() }
                    let lo = n * r / replicas, hi = n * (r + 1) / replicas
                    let xs = Shape.slice(x, axis: 0, range: lo..<hi), dys = Shape.slice(dy, axis: 0, range: lo..<hi)
                    var m = mean0, v = var0
                    let red = ThreadGroupReducer.Member(group)
                    let fw = try! SyncBatchNorm2D.trainForward(xs, gamma: gamma, beta: beta, runningMean: &m, runningVar: &v, reducer: red)
                    let bw = try! SyncBatchNorm2D.trainBackward(dys, input: xs, gamma: gamma, stats: fw.stats, count: fw.count, reducer: red)
                    results.lock.lock()
                    results.ys[r] = fw.y; results.dxs[r] = bw.dx; results.dgs[r] = bw.dGamma; results.dbs[r] = bw.dBeta
                    results.means[r] = m; results.vars[r] = v
                    results.lock.unlock()
                }.start()
            }
            done.wait()
            let ys = results.ys, dxs = results.dxs, dgs = results.dgs, dbs = results.dbs
            let means = results.means, vars = results.vars
            // Every replica holds the same running statistics.
            for r in 1..<replicas {
                XCTAssertEqual(means[r], means[0], "\(replicas) replicas: running mean of replica \(r)")
                XCTAssertEqual(vars[r], vars[0], "\(replicas) replicas: running variance of replica \(r)")
            }
            let nonEmpty = (0..<replicas).filter { ys[$0]!.shape[0] > 0 }
            // Parameter gradients are each replica's share; the all-reduce of g's gradients sums them.
            let dg = dgs.dropFirst().reduce(dgs[0]!) { Elementwise.add($0, $1!) }
            let db = dbs.dropFirst().reduce(dbs[0]!) { Elementwise.add($0, $1!) }
            let checks: [(String, Tensor, Tensor)] = [
                ("y", Shape.concat(nonEmpty.map { ys[$0]! }, axis: 0), f["y"]),
                ("dx", Shape.concat(nonEmpty.map { dxs[$0]! }, axis: 0), f["dx"]),
                ("dgamma", dg, f["dgamma"]), ("dbeta", db, f["dbeta"]),
                ("running_mean", Tensor(shape: [c], data: means[0]), f["running_mean"]),
                ("running_var", Tensor(shape: [c], data: vars[0]), f["running_var"]),
            ]
            for (name, got, want) in checks {
                let e = maxRelativeError(got, want)
                worst[name] = max(worst[name] ?? 0, e)
                // Measured worst case over these shardings: see the message printed below.
                XCTAssertLessThan(e, 1e-5, "\(replicas) replicas: \(name)")
            }
        }
        print("SyncBatchNorm vs PyTorch, worst relative error over 1/2/3/4/6 replicas: "
              + worst.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}
