import XCTest
@testable import Network

/// PyTorch parity for the dense ops, against fixtures written by
/// Tools/reference/fixtures_dense.py. Metric: maxRelativeError(ours, torch) =
/// max |ours − torch| / max |torch| over the whole tensor, required ≤ 1e-4.
final class DenseParityTests: XCTestCase {
    private let tol: Float = 1e-4

    private func check(_ ours: Tensor, _ f: Fixture, _ key: String, file: StaticString = #filePath, line: UInt = #line) {
        let want = f[key]
        XCTAssertEqual(ours.shape, want.shape, "\(f.name).\(key) shape", file: file, line: line)
        guard ours.shape == want.shape else { return }
        let err = maxRelativeError(ours, want)
        XCTAssertLessThanOrEqual(err, tol, "\(f.name).\(key): max relative error \(err)", file: file, line: line)
    }

    private func float(_ f: Fixture, _ key: String) -> Float { (f.meta[key] as! NSNumber).floatValue }

    func testLayerNorm() throws {
        let f = try Fixture("layer_norm")
        let (y, st) = LayerNorm.forward(f["x"], gamma: f["gamma"], beta: f["beta"], eps: float(f, "eps"))
        check(y, f, "y")
        let g = LayerNorm.backward(f["dy"], input: f["x"], gamma: f["gamma"], stats: st)
        check(g.dx, f, "dx"); check(g.dGamma, f, "dgamma"); check(g.dBeta, f, "dbeta")
    }

    func testLayerNorm2D() throws {
        let f = try Fixture("layer_norm_2d")
        let (y, st) = LayerNorm2D.forward(f["x"], gamma: f["gamma"], beta: f["beta"], eps: float(f, "eps"))
        check(y, f, "y")
        let g = LayerNorm2D.backward(f["dy"], input: f["x"], gamma: f["gamma"], stats: st)
        check(g.dx, f, "dx"); check(g.dGamma, f, "dgamma"); check(g.dBeta, f, "dbeta")
    }

    func testAttention() throws {
        let f = try Fixture("attention")
        let (out, probs) = Attention.forward(q: f["q"], k: f["k"], v: f["v"])
        check(out, f, "out")
        let g = Attention.backward(f["dy"], q: f["q"], k: f["k"], v: f["v"], probs: probs)
        check(g.dq, f, "dq"); check(g.dk, f, "dk"); check(g.dv, f, "dv")
    }

    func testBatchNormTrain() throws {
        let f = try Fixture("batch_norm_train")
        var rm = f["running_mean0"].data, rv = f["running_var0"].data
        let (y, st) = BatchNorm2D.trainForward(f["x"], gamma: f["gamma"], beta: f["beta"], runningMean: &rm,
                                               runningVar: &rv, momentum: float(f, "momentum"), eps: float(f, "eps"))
        check(y, f, "y")
        check(Tensor(shape: [rm.count], data: rm), f, "running_mean")
        check(Tensor(shape: [rv.count], data: rv), f, "running_var")
        let g = BatchNorm2D.trainBackward(f["dy"], input: f["x"], gamma: f["gamma"], stats: st)
        check(g.dx, f, "dx"); check(g.dGamma, f, "dgamma"); check(g.dBeta, f, "dbeta")
    }

    func testBatchNormEval() throws {
        let f = try Fixture("batch_norm_eval")
        let rm = f["running_mean"].data, rv = f["running_var"].data, eps = float(f, "eps")
        check(BatchNorm2D.evalForward(f["x"], gamma: f["gamma"], beta: f["beta"], runningMean: rm, runningVar: rv, eps: eps), f, "y")
        let g = BatchNorm2D.evalBackward(f["dy"], input: f["x"], gamma: f["gamma"], runningMean: rm, runningVar: rv, eps: eps)
        check(g.dx, f, "dx"); check(g.dGamma, f, "dgamma"); check(g.dBeta, f, "dbeta")
    }

    func testGELU() throws {
        let f = try Fixture("gelu")
        check(GELU.forward(f["x"]), f, "y")
        check(GELU.backward(f["dy"], input: f["x"]), f, "dx")
    }

    func testSoftmax() throws {
        let f = try Fixture("softmax")
        let y = Softmax.forward(f["x"])
        check(y, f, "y")
        check(Softmax.backward(f["dy"], output: y), f, "dx")
    }
}
