import Foundation
import XCTest
@testable import Network

/// Backward passes of the dense ops against central finite differences (GradCheck: the
/// loss is a fixed random projection of the output; relative error ≤ 1e-2 as GradCheck's
/// doc explains), forward passes against naive formulas, on odd shapes so SIMD tails and
/// non-square products are exercised.
final class DenseOpsTests: XCTestCase {
    // MARK: - Helpers

    /// Checks `analytic(w)` = d(Σ f(x)·w)/dx numerically.
    private func checkGrad(_ name: String, at x: Tensor, _ f: (Tensor) -> Tensor, analytic: (Tensor) -> Tensor,
                           file: StaticString = #filePath, line: UInt = #line) {
        let w = GradCheck.projection(for: f(x).shape)
        let g = analytic(w)
        XCTAssertEqual(g.shape, x.shape, "\(name): gradient shape", file: file, line: line)
        let num = GradCheck.numeric(x) { GradCheck.dot(f($0), w) }
        let err = GradCheck.relativeError(analytic: g, numeric: num)
        XCTAssertLessThanOrEqual(err, 1e-2, "\(name): relative gradient error \(err)", file: file, line: line)
    }

    private func randn(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var rng = SeededRNG(seed: seed)
        return Tensor.randn(shape, rng: &rng, scale: scale)
    }

    /// Values kept at least `gap` away from every kink so finite differences do not straddle one.
    private func awayFromKinks(_ t: Tensor, kinks: [Float], gap: Float = 0.05) -> Tensor {
        var t = t
        for i in 0..<t.count {
            for k in kinks where abs(t.data[i] - k) < gap { t.data[i] = k + (t.data[i] >= k ? gap : -gap) }
        }
        return t
    }

    private func assertClose(_ a: Tensor, _ b: Tensor, _ tol: Float = 1e-5, _ msg: String = "",
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, msg, file: file, line: line)
        guard a.shape == b.shape else { return }
        var worst: Float = 0
        for i in 0..<a.count { worst = max(worst, abs(a.data[i] - b.data[i])) }
        XCTAssertLessThanOrEqual(worst, tol, "\(msg): max abs difference \(worst)", file: file, line: line)
    }

    /// Naive batched product with explicit transposes, in Double.
    private func naiveMatMul(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool, _ alpha: Float) -> Tensor {
        let batch = a.shape.dropLast(2).reduce(1, *)
        let m = ta ? a.dim(-1) : a.dim(-2), k = ta ? a.dim(-2) : a.dim(-1), n = tb ? b.dim(-2) : b.dim(-1)
        var c = [Float](repeating: 0, count: batch * m * n)
        for z in 0..<batch { for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = a.data[z * m * k + (ta ? p * m + i : i * k + p)]
                let bv = b.data[z * k * n + (tb ? j * k + p : p * n + j)]
                s += Double(av) * Double(bv)
            }
            c[z * m * n + i * n + j] = Float(s) * alpha
        }}}
        return Tensor(shape: Array(a.shape.dropLast(2)) + [m, n], data: c)
    }

    // MARK: - SIMD math accuracy

    /// Max errors of the SIMD kernels against libm on [-10, 10] (and exp on [-80, 80]).
    /// Measured here: exp rel. ≤ 2.5e-7; erf, GELU, tanh, sigmoid abs. < 1e-6 (see the log line).
    func testSIMDMathAgainstLibm() {
        let n = 200_001
        let xs = Tensor(shape: [n], data: (0..<n).map { -10 + 20 * Float($0) / Float(n - 1) })
        let gelu = GELU.forward(xs), th = Tanh.forward(xs), sg = Sigmoid.forward(xs)
        let erf = mapSIMD(xs) { SIMDMath.erf($0) }
        let wide = Tensor(shape: [n], data: (0..<n).map { -80 + 160 * Float($0) / Float(n - 1) })
        let ex = mapSIMD(wide) { SIMDMath.exp($0) }
        var eGelu = 0.0, eTanh = 0.0, eSig = 0.0, eErf = 0.0, eExp = 0.0
        for i in 0..<n {
            let x = Double(xs.data[i])
            let refGelu = Double(0.5 * xs.data[i] * (1 + erff(xs.data[i] * 0.707_106_78)))
            eGelu = max(eGelu, abs(Double(gelu.data[i]) - refGelu))
            eTanh = max(eTanh, abs(Double(th.data[i]) - Double(tanhf(xs.data[i]))))
            eSig = max(eSig, abs(Double(sg.data[i]) - 1 / (1 + Foundation.exp(-x))))
            eErf = max(eErf, abs(Double(erf.data[i]) - Double(erff(xs.data[i]))))
            let e = Double(expf(wide.data[i]))
            eExp = max(eExp, abs(Double(ex.data[i]) - e) / e)
        }
        print("SIMD vs libm max error: GELU abs \(eGelu), erf abs \(eErf), tanh abs \(eTanh), sigmoid abs \(eSig), exp rel \(eExp)")
        XCTAssertLessThan(eGelu, 1e-6)
        XCTAssertLessThan(eErf, 1e-6)
        XCTAssertLessThan(eTanh, 1e-6)
        XCTAssertLessThan(eSig, 1e-6)
        XCTAssertLessThan(eExp, 1e-6)
        // Saturation: no inf / NaN far out.
        let far = Tensor(shape: [4], data: [-1000, -90, 90, 1000])
        for t in [GELU.forward(far), Tanh.forward(far), Sigmoid.forward(far), Softmax.forward(far)] {
            XCTAssertTrue(t.data.allSatisfy { $0.isFinite }, "\(t)")
        }
    }

    // MARK: - Activations

    func testActivationGradients() {
        let x = randn([3, 5, 7], seed: 1, scale: 2)   // 105 values: 13 vectors + a tail of 1
        checkGrad("GELU", at: x, { GELU.forward($0) }, analytic: { GELU.backward($0, input: x) })
        checkGrad("Tanh", at: x, { Tanh.forward($0) }, analytic: { Tanh.backward($0, output: Tanh.forward(x)) })
        checkGrad("Sigmoid", at: x, { Sigmoid.forward($0) }, analytic: { Sigmoid.backward($0, output: Sigmoid.forward(x)) })
        let xr = awayFromKinks(x, kinks: [0])
        checkGrad("ReLU", at: xr, { ReLU.forward($0) }, analytic: { ReLU.backward($0, input: xr) })
        checkGrad("LeakyReLU", at: xr, { LeakyReLU.forward($0, slope: 0.2) },
                  analytic: { LeakyReLU.backward($0, input: xr, slope: 0.2) })
        let x6 = awayFromKinks(randn([3, 5, 7], seed: 2, scale: 4), kinks: [0, 6])
        checkGrad("ReLU6", at: x6, { ReLU6.forward($0) }, analytic: { ReLU6.backward($0, input: x6) })
        XCTAssertEqual(ReLU6.forward(Tensor(shape: [3], data: [-1, 3, 7])).data, [0, 3, 6])
        XCTAssertEqual(LeakyReLU.forward(Tensor(shape: [2], data: [-2, 3])).data, [-0.02, 3])
    }

    func testSoftmax() {
        let x = randn([4, 3, 11], seed: 3, scale: 3)
        let y = Softmax.forward(x)
        for r in 0..<12 {
            let row = y.data[(r * 11)..<(r * 11 + 11)]
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
            let xr = x.data[(r * 11)..<(r * 11 + 11)], m = xr.max()!
            let z = xr.map { Foundation.exp(Double($0 - m)) }.reduce(0, +)
            for (a, b) in zip(row, xr) { XCTAssertEqual(Double(a), Foundation.exp(Double(b - m)) / z, accuracy: 1e-6) }
        }
        checkGrad("Softmax", at: x, { Softmax.forward($0) }, analytic: { Softmax.backward($0, output: y) })
        // Stable for large inputs: shift invariance.
        let big = Softmax.forward(Tensor(shape: [1, 3], data: [1000, 1001, 1002]))
        assertClose(big, Softmax.forward(Tensor(shape: [1, 3], data: [0, 1, 2])), 1e-6, "shifted softmax")
    }

    // MARK: - Normalisations

    func testLayerNorm() {
        let x = randn([3, 5, 13], seed: 4, scale: 2), g = randn([13], seed: 5), b = randn([13], seed: 6)
        let (y, st) = LayerNorm.forward(x, gamma: g, beta: b)
        for r in 0..<15 {   // naive row check
            let row = x.data[(r * 13)..<(r * 13 + 13)].map(Double.init)
            let mu = row.reduce(0, +) / 13, v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 13
            for c in 0..<13 {
                let want = (row[c] - mu) / (v + 1e-5).squareRoot() * Double(g.data[c]) + Double(b.data[c])
                XCTAssertEqual(Double(y.data[r * 13 + c]), want, accuracy: 1e-5)
            }
        }
        let f = { (xx: Tensor, gg: Tensor, bb: Tensor) in LayerNorm.forward(xx, gamma: gg, beta: bb).y }
        checkGrad("LayerNorm dx", at: x, { f($0, g, b) }, analytic: { LayerNorm.backward($0, input: x, gamma: g, stats: st).dx })
        checkGrad("LayerNorm dgamma", at: g, { f(x, $0, b) }, analytic: { LayerNorm.backward($0, input: x, gamma: g, stats: st).dGamma })
        checkGrad("LayerNorm dbeta", at: b, { f(x, g, $0) }, analytic: { LayerNorm.backward($0, input: x, gamma: g, stats: st).dBeta })
    }

    func testLayerNorm2D() {
        let x = randn([2, 5, 3, 7], seed: 7, scale: 2), g = randn([5], seed: 8), b = randn([5], seed: 9)
        let (y, st) = LayerNorm2D.forward(x, gamma: g, beta: b)
        // Equals LayerNorm over C after moving C last.
        let ln = LayerNorm.forward(Shape.permute(x, [0, 2, 3, 1]), gamma: g, beta: b, eps: 1e-6).y
        assertClose(Shape.permute(ln, [0, 3, 1, 2]), y, 1e-5, "LayerNorm2D vs permuted LayerNorm")
        let f = { (xx: Tensor, gg: Tensor, bb: Tensor) in LayerNorm2D.forward(xx, gamma: gg, beta: bb).y }
        checkGrad("LayerNorm2D dx", at: x, { f($0, g, b) }, analytic: { LayerNorm2D.backward($0, input: x, gamma: g, stats: st).dx })
        checkGrad("LayerNorm2D dgamma", at: g, { f(x, $0, b) }, analytic: { LayerNorm2D.backward($0, input: x, gamma: g, stats: st).dGamma })
        checkGrad("LayerNorm2D dbeta", at: b, { f(x, g, $0) }, analytic: { LayerNorm2D.backward($0, input: x, gamma: g, stats: st).dBeta })
    }

    func testBatchNormTrain() {
        let (n, c, h, w) = (3, 4, 5, 3)
        let x = randn([n, c, h, w], seed: 10, scale: 2), g = randn([c], seed: 11), b = randn([c], seed: 12)
        let rm0: [Float] = [0.1, -0.2, 0.3, 0], rv0: [Float] = [1, 0.5, 2, 1.5]
        var rm = rm0, rv = rv0
        let (y, st) = BatchNorm2D.trainForward(x, gamma: g, beta: b, runningMean: &rm, runningVar: &rv)
        let m = n * h * w
        for ch in 0..<c {
            var vals: [Double] = []
            for i in 0..<n { for j in 0..<(h * w) { vals.append(Double(x.data[(i * c + ch) * h * w + j])) } }
            let mu = vals.reduce(0, +) / Double(m)
            let ss = vals.map { ($0 - mu) * ($0 - mu) }.reduce(0, +)
            XCTAssertEqual(Double(st.mean[ch]), mu, accuracy: 1e-5)
            XCTAssertEqual(Double(st.invStd[ch]), 1 / (ss / Double(m) + 1e-5).squareRoot(), accuracy: 1e-4)
            // running stats: momentum 0.1, unbiased variance
            XCTAssertEqual(Double(rm[ch]), 0.9 * Double(rm0[ch]) + 0.1 * mu, accuracy: 1e-5)
            XCTAssertEqual(Double(rv[ch]), 0.9 * Double(rv0[ch]) + 0.1 * ss / Double(m - 1), accuracy: 1e-5)
            for i in 0..<n { for j in 0..<(h * w) {
                let k = (i * c + ch) * h * w + j
                let want = (Double(x.data[k]) - mu) / (ss / Double(m) + 1e-5).squareRoot() * Double(g.data[ch]) + Double(b.data[ch])
                XCTAssertEqual(Double(y.data[k]), want, accuracy: 1e-5)
            }}
        }
        let f = { (xx: Tensor, gg: Tensor, bb: Tensor) -> Tensor in
            var a = rm0, v = rv0
            return BatchNorm2D.trainForward(xx, gamma: gg, beta: bb, runningMean: &a, runningVar: &v).y
        }
        let back = { (dy: Tensor) in BatchNorm2D.trainBackward(dy, input: x, gamma: g, stats: st) }
        checkGrad("BatchNorm train dx", at: x, { f($0, g, b) }, analytic: { back($0).dx })
        checkGrad("BatchNorm train dgamma", at: g, { f(x, $0, b) }, analytic: { back($0).dGamma })
        checkGrad("BatchNorm train dbeta", at: b, { f(x, g, $0) }, analytic: { back($0).dBeta })
    }

    func testBatchNormEval() {
        let (n, c, h, w) = (2, 3, 3, 5)
        let x = randn([n, c, h, w], seed: 13, scale: 2), g = randn([c], seed: 14), b = randn([c], seed: 15)
        let rm: [Float] = [0.3, -0.5, 0.1], rv: [Float] = [0.8, 1.7, 0.4]
        let y = BatchNorm2D.evalForward(x, gamma: g, beta: b, runningMean: rm, runningVar: rv)
        for k in 0..<x.count {
            let ch = (k / (h * w)) % c
            let want = (x.data[k] - rm[ch]) / (rv[ch] + 1e-5).squareRoot() * g.data[ch] + b.data[ch]
            XCTAssertEqual(y.data[k], want, accuracy: 1e-5)
        }
        let f = { (xx: Tensor, gg: Tensor, bb: Tensor) in
            BatchNorm2D.evalForward(xx, gamma: gg, beta: bb, runningMean: rm, runningVar: rv)
        }
        let back = { (dy: Tensor) in BatchNorm2D.evalBackward(dy, input: x, gamma: g, runningMean: rm, runningVar: rv) }
        checkGrad("BatchNorm eval dx", at: x, { f($0, g, b) }, analytic: { back($0).dx })
        checkGrad("BatchNorm eval dgamma", at: g, { f(x, $0, b) }, analytic: { back($0).dGamma })
        checkGrad("BatchNorm eval dbeta", at: b, { f(x, g, $0) }, analytic: { back($0).dBeta })
    }

    // MARK: - Products

    func testLinear3D() {
        let x = randn([2, 3, 7], seed: 16), wt = randn([5, 7], seed: 17), b = randn([5], seed: 18)
        let y = Linear.forward(x, weight: wt, bias: b)
        XCTAssertEqual(y.shape, [2, 3, 5])
        let naive = Elementwise.addChannelBias(naiveMatMul(x.reshaped([6, 7]), wt, false, true, 1), b, axis: -1)
        assertClose(y.reshaped([6, 5]), naive, 1e-5, "Linear forward")
        assertClose(Linear.forward(x, weight: wt, bias: nil).reshaped([6, 5]),
                    naiveMatMul(x.reshaped([6, 7]), wt, false, true, 1), 1e-5, "Linear without bias")
        checkGrad("Linear dx", at: x, { Linear.forward($0, weight: wt, bias: b) },
                  analytic: { Linear.backward($0, input: x, weight: wt).dx! })
        checkGrad("Linear dW", at: wt, { Linear.forward(x, weight: $0, bias: b) },
                  analytic: { Linear.backward($0, input: x, weight: wt).dWeight })
        checkGrad("Linear db", at: b, { Linear.forward(x, weight: wt, bias: $0) },
                  analytic: { Linear.backward($0, input: x, weight: wt).dBias })
        XCTAssertNil(Linear.backward(y, input: x, weight: wt, needInputGrad: false).dx)
    }

    func testMatMulAllTransposes() {
        let (bt, m, k, n) = (3, 4, 5, 6)
        for ta in [false, true] {
            for tb in [false, true] {
                let a = randn(ta ? [bt, k, m] : [bt, m, k], seed: 19), b = randn(tb ? [bt, n, k] : [bt, k, n], seed: 20)
                let alpha: Float = 0.7
                let c = MatMul.forward(a, b, transA: ta, transB: tb, alpha: alpha)
                XCTAssertEqual(c.shape, [bt, m, n])
                assertClose(c, naiveMatMul(a, b, ta, tb, alpha), 1e-5, "MatMul ta=\(ta) tb=\(tb)")
                let tag = "MatMul(transA: \(ta), transB: \(tb))"
                checkGrad("\(tag) da", at: a, { MatMul.forward($0, b, transA: ta, transB: tb, alpha: alpha) },
                          analytic: { MatMul.backward($0, a, b, transA: ta, transB: tb, alpha: alpha).da })
                checkGrad("\(tag) db", at: b, { MatMul.forward(a, $0, transA: ta, transB: tb, alpha: alpha) },
                          analytic: { MatMul.backward($0, a, b, transA: ta, transB: tb, alpha: alpha).db })
            }
        }
        // Rank 2 stays rank 2.
        let a2 = randn([3, 4], seed: 21), b2 = randn([4, 2], seed: 22)
        let c2 = MatMul.forward(a2, b2)
        XCTAssertEqual(c2.shape, [3, 2])
        assertClose(c2, naiveMatMul(a2, b2, false, false, 1), 1e-5, "rank-2 MatMul")
    }

    func testAttention() {
        let (bt, h, lq, lk, d, dv) = (2, 3, 5, 7, 4, 6)
        let q = randn([bt, h, lq, d], seed: 23), k = randn([bt, h, lk, d], seed: 24), v = randn([bt, h, lk, dv], seed: 25)
        let (out, probs) = Attention.forward(q: q, k: k, v: v)
        XCTAssertEqual(out.shape, [bt, h, lq, dv])
        XCTAssertEqual(probs.shape, [bt, h, lq, lk])
        // Composition of the other ops.
        let s = MatMul.forward(q.reshaped([bt * h, lq, d]), k.reshaped([bt * h, lk, d]), transB: true, alpha: 0.5)
        let p = Softmax.forward(s)
        assertClose(probs.reshaped([bt * h, lq, lk]), p, 1e-5, "attention probs")
        assertClose(out.reshaped([bt * h, lq, dv]), MatMul.forward(p, v.reshaped([bt * h, lk, dv])), 1e-5, "attention out")
        let back = { (g: Tensor) in Attention.backward(g, q: q, k: k, v: v, probs: probs) }
        checkGrad("Attention dq", at: q, { Attention.forward(q: $0, k: k, v: v).out }, analytic: { back($0).dq })
        checkGrad("Attention dk", at: k, { Attention.forward(q: q, k: $0, v: v).out }, analytic: { back($0).dk })
        checkGrad("Attention dv", at: v, { Attention.forward(q: q, k: k, v: $0).out }, analytic: { back($0).dv })
        // Explicit scale.
        let (o2, p2) = Attention.forward(q: q, k: k, v: v, scale: 0.3)
        checkGrad("Attention dq scale 0.3", at: q, { Attention.forward(q: $0, k: k, v: v, scale: 0.3).out },
                  analytic: { Attention.backward($0, q: q, k: k, v: v, probs: p2, scale: 0.3).dq })
        XCTAssertEqual(o2.shape, out.shape)
    }

    // MARK: - Elementwise and shape

    func testElementwise() {
        let a = randn([3, 11], seed: 26), b = randn([3, 11], seed: 27)
        for i in 0..<a.count {
            XCTAssertEqual(Elementwise.add(a, b).data[i], a.data[i] + b.data[i])
            XCTAssertEqual(Elementwise.sub(a, b).data[i], a.data[i] - b.data[i])
            XCTAssertEqual(Elementwise.mul(a, b).data[i], a.data[i] * b.data[i])
            XCTAssertEqual(Elementwise.scale(a, 2.5).data[i], a.data[i] * 2.5)
        }
        var acc = a
        Elementwise.addInPlace(&acc, b)
        XCTAssertEqual(acc, Elementwise.add(a, b))
        checkGrad("mul da", at: a, { Elementwise.mul($0, b) }, analytic: { Elementwise.mulBackward($0, a, b).da })
        checkGrad("mul db", at: b, { Elementwise.mul(a, $0) }, analytic: { Elementwise.mulBackward($0, a, b).db })
        let x = randn([2, 3, 4, 5], seed: 28), bias = randn([3], seed: 29)
        checkGrad("addChannelBias", at: bias, { Elementwise.addChannelBias(x, $0) },
                  analytic: { Elementwise.channelBiasBackward($0) })
        let bl = randn([5], seed: 30)
        checkGrad("addChannelBias last axis", at: bl, { Elementwise.addChannelBias(x, $0, axis: -1) },
                  analytic: { Elementwise.channelBiasBackward($0, axis: -1) })
    }

    func testShapeOpsRoundTrip() {
        let a = randn([2, 3, 4], seed: 31), b = randn([2, 5, 4], seed: 32), c = randn([2, 1, 4], seed: 33)
        let cat = Shape.concat([a, b, c], axis: 1)
        XCTAssertEqual(cat.shape, [2, 9, 4])
        XCTAssertEqual(Shape.slice(cat, axis: 1, range: 0..<3), a)
        XCTAssertEqual(Shape.slice(cat, axis: 1, range: 3..<8), b)
        XCTAssertEqual(Shape.slice(cat, axis: -2, range: 8..<9), c)
        XCTAssertEqual(Shape.concatBackward(cat, sizes: [3, 5, 1], axis: 1), [a, b, c])
        XCTAssertEqual(Shape.concat([a, a], axis: -1).shape, [2, 3, 8])
        XCTAssertEqual(Shape.concat([a, a], axis: 0).data, a.data + a.data)
        checkGrad("slice", at: cat, { Shape.slice($0, axis: 1, range: 2..<6) },
                  analytic: { Shape.sliceBackward($0, inputShape: cat.shape, axis: 1, range: 2..<6) })
        checkGrad("concat", at: b, { Shape.concat([a, $0, c], axis: 1) },
                  analytic: { Shape.concatBackward($0, sizes: [3, 5, 1], axis: 1)[1] })

        let x = randn([2, 3, 4, 5], seed: 34), perm = [2, 0, 3, 1]
        let y = Shape.permute(x, perm)
        XCTAssertEqual(y.shape, [4, 2, 5, 3])
        for i0 in 0..<2 { for i1 in 0..<3 { for i2 in 0..<4 { for i3 in 0..<5 {
            XCTAssertEqual(y.data[((i2 * 2 + i0) * 5 + i3) * 3 + i1], x.data[((i0 * 3 + i1) * 4 + i2) * 5 + i3])
        }}}}
        let inv = Shape.inversePermutation(perm)
        XCTAssertEqual(inv, [1, 3, 0, 2])
        XCTAssertEqual(Shape.permute(y, inv), x)
        XCTAssertEqual(Shape.permute(x, [0, 1, 2, 3]), x)
        checkGrad("permute", at: x, { Shape.permute($0, perm) }, analytic: { Shape.permute($0, inv) })
    }
}
