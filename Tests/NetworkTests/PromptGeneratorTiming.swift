import Foundation
import XCTest
@testable import Network

/// g forward + backward time at batch 10, 256² (HarDNet-85). Opt-in: AUTOSAM_TIME_G=1
/// (run with OPENBLAS_NUM_THREADS=1 for the single-thread figure).
final class PromptGeneratorTiming: XCTestCase {
    func testTimeHarDNet85ForwardBackward() throws {
        guard ProcessInfo.processInfo.environment["AUTOSAM_TIME_G"] == "1" else {
            throw XCTSkip("set AUTOSAM_TIME_G=1 to time g")
        }
        var rng = SeededRNG(seed: 1)
        let g = PromptGenerator(variant: .hardnet85, rng: &rng)
        let x = analyticImage(10, 3, 256, 256)
        let t0 = Date()
        let (z, cache) = g.forward(x, training: true)
        let t1 = Date()
        g.backward(Tensor(shape: z.shape, repeating: 1e-3), cache)
        let t2 = Date()
        print(String(format: "g HarDNet-85 batch 10 256²: forward %.2f s, backward %.2f s",
                     t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
    }
}
