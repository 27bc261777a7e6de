import Foundation
import XCTest
@testable import Network

/// Throughput of the convolution kernels against plain sgemm. Skipped unless AUTOSAM_PERF=1;
/// prints numbers, asserts nothing about time. Run in release:
///   AUTOSAM_PERF=1 swift test -c release -Xswiftc -enable-testing --filter ConvPerfTests
/// The target: the 3×3 64→64 128² batch-10 forward at ≥ 60 % of sgemm's GFLOP/s.
final class ConvPerfTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["AUTOSAM_PERF"] == "1", "set AUTOSAM_PERF=1 to measure")
    }

    /// Best wall time of `reps` runs (after one warm-up).
    func bestTime(reps: Int, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<reps {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return best
    }

    func sgemmGFlops(_ n: Int) -> Double {
        var rng = SeededRNG(seed: 1)
        let a = Tensor.randn([n, n], rng: &rng), b = Tensor.randn([n, n], rng: &rng)
        var c = [Float](repeating: 0, count: n * n)
        let t = bestTime(reps: 5) {
            a.data.withUnsafeBufferPointer { ap in
                b.data.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        sgemm(m: n, n: n, k: n, a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!)
                    }
                }
            }
        }
        return 2 * Double(n * n * n) / t * 1e-9
    }

    func testConvVersusSgemmThroughput() {
        let threadsBefore = ComputeThreads.current
        defer { ComputeThreads.set(threadsBefore) }
        var rng = SeededRNG(seed: 2)
        let (n, c, k, hw) = (10, 64, 64, 128)
        let x = Tensor.randn([n, c, hw, hw], rng: &rng)
        let w = Tensor.randn([k, c, 3, 3], rng: &rng, scale: 0.05)
        let b = Tensor.randn([k], rng: &rng)
        let g = Conv2DGeometry(padding: 1)
        let flops = 2.0 * Double(n * c * k * hw * hw * 9)
        for threads in [1, threadsBefore].uniqued() {
            ComputeThreads.set(threads)
            let gemm = sgemmGFlops(1024)
            var y = Tensor(zeros: [1])
            let tf = bestTime(reps: 3) { y = Conv2D.forward(x, weight: w, bias: b, g) }
            let tb = bestTime(reps: 2) { _ = Conv2D.backward(y, input: x, weight: w, g) }
            let fwd = flops / tf * 1e-9, bwd = 2 * flops / tb * 1e-9
            print(String(format: "[perf] threads %d: sgemm 1024³ %.1f GFLOP/s; conv 3×3 64→64 128² ×10 forward %.1f GFLOP/s (%.0f%% of sgemm), backward (dx+dW) %.1f GFLOP/s",
                         threads, gemm, fwd, 100 * fwd / gemm, bwd))
        }
        // Narrow and pointwise shapes from the model, one thread.
        ComputeThreads.set(1)
        for (cin, cout, size, kk) in [(48, 24, 64, 3), (500, 192, 64, 1), (320, 320, 32, 3), (320, 320, 8, 3), (64, 64, 16, 3), (720, 320, 8, 1)] {
            let x2 = Tensor.randn([n, cin, size, size], rng: &rng)
            let w2 = Tensor.randn([cout, cin, kk, kk], rng: &rng, scale: 0.05)
            let g2 = Conv2DGeometry(padding: kk / 2)
            let f2 = 2.0 * Double(n * cin * cout * size * size * kk * kk)
            let t = bestTime(reps: 2) { _ = Conv2D.forward(x2, weight: w2, bias: nil, g2) }
            let y2 = Conv2D.forward(x2, weight: w2, bias: nil, g2)
            let tb = bestTime(reps: 2) { _ = Conv2D.backward(y2, input: x2, weight: w2, g2) }
            print(String(format: "[perf] threads 1: conv %d×%d %d→%d %d² ×10 forward %.1f, backward %.1f GFLOP/s", kk, kk, cin, cout, size, size, f2 / t * 1e-9, 2 * f2 / tb * 1e-9))
        }
    }
}

private extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
