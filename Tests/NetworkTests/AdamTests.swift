import Foundation
import XCTest
@testable import Network

final class AdamTests: XCTestCase {
    /// torch.optim.Adam for five steps; metric max |ours − torch| / max |torch| ≤ 1e-6.
    func testMatchesPyTorchAdam() throws {
        let fx = try Fixture("adam")
        var params = fx["p0"].data
        var adam = Adam(parameterCount: params.count, lr: 3e-4, weightDecay: 1e-5)
        for i in 0..<5 {
            adam.update(&params, grads: fx["g\(i)"].data)
            XCTAssertLessThan(maxRelativeError(Tensor(shape: [params.count], data: params), fx["p\(i + 1)"]), 1e-6, "step \(i + 1)")
        }
        XCTAssertEqual(adam.step, 5)
    }

    func testStateRoundTripsThroughCodable() throws {
        var a = Adam(parameterCount: 3)
        var p: [Float] = [1, 2, 3]
        a.update(&p, grads: [0.1, -0.2, 0.3])
        let b = try JSONDecoder().decode(Adam.self, from: JSONEncoder().encode(a))
        XCTAssertEqual(a, b)
        var p1 = p, p2 = p
        var a1 = a, b1 = b
        a1.update(&p1, grads: [1, 1, 1]); b1.update(&p2, grads: [1, 1, 1])
        XCTAssertEqual(p1, p2)
    }
}
