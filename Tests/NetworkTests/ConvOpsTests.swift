import Foundation
import XCTest
@testable import Network

/// Convolution-family ops: forward against naive direct loops (1e-5), backward against central
/// finite differences (GradCheck: relative error ≤ 1e-2, see GradCheck.swift for why).
/// These check the reference engine (the im2col block sizes are its own); OneDNNConvTests holds
/// the oneDNN engine to this one.
final class ConvOpsTests: XCTestCase {

    // MARK: helpers

    struct ConvCase {
        var name: String
        var n, c, h, w, k, kh, kw: Int
        var g: Conv2DGeometry
    }

    static let convCases: [ConvCase] = [
        ConvCase(name: "3x3 pad1 odd", n: 2, c: 3, h: 7, w: 5, k: 4, kh: 3, kw: 3, g: .init(padding: 1)),
        ConvCase(name: "3x3 stride2 pad1", n: 2, c: 3, h: 7, w: 5, k: 4, kh: 3, kw: 3, g: .init(stride: 2, padding: 1)),
        ConvCase(name: "3x3 dilation2 pad2", n: 1, c: 2, h: 7, w: 6, k: 3, kh: 3, kw: 3, g: .init(padding: 2, dilation: 2)),
        ConvCase(name: "stride2 dilation2 unpadded", n: 1, c: 2, h: 9, w: 8, k: 3, kh: 3, kw: 3, g: .init(stride: 2, dilation: 2)),
        ConvCase(name: "groups 2", n: 2, c: 4, h: 6, w: 5, k: 6, kh: 3, kw: 3, g: .init(padding: 1, groups: 2)),
        ConvCase(name: "depthwise", n: 2, c: 4, h: 7, w: 5, k: 4, kh: 3, kw: 3, g: .init(padding: 1, groups: 4)),
        ConvCase(name: "depthwise x2 stride2 dil2", n: 1, c: 3, h: 9, w: 7, k: 6, kh: 3, kw: 3,
                 g: .init(stride: 2, padding: 2, dilation: 2, groups: 3)),
        ConvCase(name: "depthwise wide rows", n: 1, c: 2, h: 5, w: 21, k: 2, kh: 3, kw: 3, g: .init(padding: 1, groups: 2)),
        ConvCase(name: "1x1", n: 2, c: 5, h: 4, w: 3, k: 3, kh: 1, kw: 1, g: .init()),
        ConvCase(name: "1x1 groups", n: 1, c: 4, h: 3, w: 5, k: 6, kh: 1, kw: 1, g: .init(groups: 2)),
        ConvCase(name: "1x1 stride2", n: 1, c: 3, h: 5, w: 7, k: 2, kh: 1, kw: 1, g: .init(stride: 2)),
        ConvCase(name: "2x3 asymmetric", n: 1, c: 2, h: 6, w: 7, k: 3, kh: 2, kw: 3,
                 g: .init(strideH: 2, strideW: 1, padH: 0, padW: 2, dilationH: 1, dilationW: 2)),
        ConvCase(name: "7x7 stride2 pad3", n: 1, c: 2, h: 11, w: 9, k: 2, kh: 7, kw: 7, g: .init(stride: 2, padding: 3)),
    ]

    /// Direct-loop reference convolution in Double.
    static func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ g: Conv2DGeometry) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (k, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let o = g.outputSize(inputH: h, inputW: wd, kernelH: kh, kernelW: kw)
        let kg = k / g.groups
        var y = Tensor(zeros: [n, k, o.h, o.w])
        for ni in 0..<n { for ki in 0..<k { for oh in 0..<o.h { for ow in 0..<o.w {
            var acc = Double(b?.data[ki] ?? 0)
            let grp = ki / kg
            for ci in 0..<cg { for i in 0..<kh { for j in 0..<kw {
                let ih = oh * g.strideH - g.padH + i * g.dilationH
                let iw = ow * g.strideW - g.padW + j * g.dilationW
                if ih < 0 || ih >= h || iw < 0 || iw >= wd { continue }
                let xv = x.data[((ni * c + grp * cg + ci) * h + ih) * wd + iw]
                acc += Double(xv) * Double(w.data[((ki * cg + ci) * kh + i) * kw + j])
            }}}
            y.data[((ni * k + ki) * o.h + oh) * o.w + ow] = Float(acc)
        }}}}
        return y
    }

    /// Direct scatter reference for the transposed convolution.
    static func naiveConvT(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ g: ConvTranspose2DGeometry) -> Tensor {
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (coutg, kh, kw) = (w.shape[1], w.shape[2], w.shape[3])
        let cout = coutg * g.groups, cing = cin / g.groups
        let o = g.outputSize(inputH: h, inputW: wd, kernelH: kh, kernelW: kw)
        var acc = [Double](repeating: 0, count: n * cout * o.h * o.w)
        for ni in 0..<n { for ci in 0..<cin { for ih in 0..<h { for iw in 0..<wd {
            let xv = Double(x.data[((ni * cin + ci) * h + ih) * wd + iw])
            let grp = ci / cing
            for co in 0..<coutg { for i in 0..<kh { for j in 0..<kw {
                let oh = ih * g.stride - g.padding + i * g.dilation
                let ow = iw * g.stride - g.padding + j * g.dilation
                if oh < 0 || oh >= o.h || ow < 0 || ow >= o.w { continue }
                acc[((ni * cout + grp * coutg + co) * o.h + oh) * o.w + ow] +=
                    xv * Double(w.data[((ci * coutg + co) * kh + i) * kw + j])
            }}}
        }}}}
        var y = Tensor(shape: [n, cout, o.h, o.w], data: acc.map { Float($0) })
        if let b {
            for i in 0..<y.count { y.data[i] += b.data[(i / (o.h * o.w)) % cout] }
        }
        return y
    }

    func assertClose(_ a: Tensor, _ b: Tensor, tol: Float, _ msg: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, msg, file: file, line: line)
        guard a.shape == b.shape else { return }
        let err = maxRelativeError(a, b)
        XCTAssertLessThanOrEqual(err, tol, "\(msg): max relative error \(err)", file: file, line: line)
    }

    /// Finite-difference check of `analytic` = d(Σ f(x)·proj)/dx.
    func checkGrad(_ x: Tensor, analytic: Tensor?, proj: Tensor, _ msg: String,
                   file: StaticString = #filePath, line: UInt = #line, _ f: (Tensor) -> Tensor) {
        guard let analytic else { return XCTFail("\(msg): no analytic gradient", file: file, line: line) }
        XCTAssertEqual(analytic.shape, x.shape, msg, file: file, line: line)
        let num = GradCheck.numeric(x) { GradCheck.dot(f($0), proj) }
        let err = GradCheck.relativeError(analytic: analytic, numeric: num)
        XCTAssertLessThanOrEqual(err, 1e-2, "\(msg): gradient relative error \(err)", file: file, line: line)
    }

    /// Runs `body` on the reference engine with the default im2col block size and with one so
    /// small every block is one row.
    func withBlockSizes(_ body: (String, ReferenceConvBackend) -> Void) {
        body("default blocks", ReferenceConvBackend())
        body("1-row blocks", ReferenceConvBackend(columnBudget: 1))
        body("small blocks", ReferenceConvBackend(columnBudget: 40))
    }

    // MARK: Conv2D

    func testConv2DForwardMatchesNaive() {
        var rng = SeededRNG(seed: 1)
        withBlockSizes { blocks, backend in
            for cs in Self.convCases {
                let x = Tensor.randn([cs.n, cs.c, cs.h, cs.w], rng: &rng)
                let w = Tensor.randn([cs.k, cs.c / cs.g.groups, cs.kh, cs.kw], rng: &rng)
                let b = Tensor.randn([cs.k], rng: &rng)
                assertClose(try! Conv2D.forward(x, weight: w, bias: b, cs.g, backend: backend), Self.naiveConv(x, w, b, cs.g),
                            tol: 1e-5, "\(cs.name), \(blocks)")
                assertClose(try! Conv2D.forward(x, weight: w, bias: nil, cs.g, backend: backend), Self.naiveConv(x, w, nil, cs.g),
                            tol: 1e-5, "\(cs.name) no bias, \(blocks)")
            }
        }
    }

    func testConv2DForwardLargerShapeMatchesNaive() {
        // Several channels and rows so the default block size splits the image too.
        var rng = SeededRNG(seed: 2)
        let x = Tensor.randn([1, 16, 24, 20], rng: &rng)
        for g in [Conv2DGeometry(padding: 1), Conv2DGeometry(stride: 2, padding: 1, groups: 4)] {
            let w = Tensor.randn([8, 16 / g.groups, 3, 3], rng: &rng)
            let backend = ReferenceConvBackend(columnBudget: 16 * 9 * 20 * 5 / g.groups)   // ~5 rows per block, ragged last block
            assertClose(try! Conv2D.forward(x, weight: w, bias: nil, g, backend: backend), Self.naiveConv(x, w, nil, g), tol: 1e-5, "\(g)")
        }
    }

    func testConv2DGradients() {
        var rng = SeededRNG(seed: 3)
        withBlockSizes { blocks, backend in
            for cs in Self.convCases {
                let x = Tensor.randn([cs.n, cs.c, cs.h, cs.w], rng: &rng)
                let w = Tensor.randn([cs.k, cs.c / cs.g.groups, cs.kh, cs.kw], rng: &rng, scale: 0.5)
                let b = Tensor.randn([cs.k], rng: &rng)
                let y = try! Conv2D.forward(x, weight: w, bias: b, cs.g, backend: backend)
                let proj = GradCheck.projection(for: y.shape)
                let gr = try! Conv2D.backward(proj, input: x, weight: w, cs.g, backend: backend)
                let msg = "\(cs.name), \(blocks)"
                checkGrad(x, analytic: gr.dx, proj: proj, "\(msg) dx") { try! Conv2D.forward($0, weight: w, bias: b, cs.g, backend: backend) }
                checkGrad(w, analytic: gr.dWeight, proj: proj, "\(msg) dW") { try! Conv2D.forward(x, weight: $0, bias: b, cs.g, backend: backend) }
                checkGrad(b, analytic: gr.dBias, proj: proj, "\(msg) db") { try! Conv2D.forward(x, weight: w, bias: $0, cs.g, backend: backend) }
                let noDx = try! Conv2D.backward(proj, input: x, weight: w, cs.g, needInputGrad: false, backend: backend)
                XCTAssertNil(noDx.dx)
                XCTAssertEqual(noDx.dWeight, gr.dWeight, msg)
                XCTAssertEqual(noDx.dBias, gr.dBias, msg)
            }
        }
    }

    func testConv2DOutputSize() {
        let g = Conv2DGeometry(stride: 2, padding: 1, dilation: 2)
        XCTAssertEqual(g.outputSize(inputH: 7, inputW: 8, kernelH: 3, kernelW: 3).h, 3)
        XCTAssertEqual(g.outputSize(inputH: 7, inputW: 8, kernelH: 3, kernelW: 3).w, 3)
        XCTAssertEqual(Conv2DGeometry(padding: 1).outputSize(inputH: 5, inputW: 6, kernelH: 3, kernelW: 3).h, 5)
    }

    // MARK: ConvTranspose2D

    struct ConvTCase {
        var name: String
        var n, cin, h, w, coutg, kh, kw: Int
        var g: ConvTranspose2DGeometry
    }

    static let convTCases: [ConvTCase] = [
        ConvTCase(name: "k3 s2 p1 op1", n: 2, cin: 3, h: 4, w: 3, coutg: 2, kh: 3, kw: 3,
                  g: .init(stride: 2, padding: 1, outputPadding: 1)),
        ConvTCase(name: "k2 s2", n: 2, cin: 3, h: 3, w: 5, coutg: 4, kh: 2, kw: 2, g: .init(stride: 2)),
        ConvTCase(name: "k3 s1 p1", n: 1, cin: 2, h: 5, w: 4, coutg: 3, kh: 3, kw: 3, g: .init(padding: 1)),
        ConvTCase(name: "groups 2 dilation 2", n: 1, cin: 4, h: 4, w: 5, coutg: 3, kh: 3, kw: 3,
                  g: .init(stride: 2, padding: 1, outputPadding: 1, dilation: 2, groups: 2)),
        ConvTCase(name: "depthwise", n: 1, cin: 3, h: 4, w: 5, coutg: 1, kh: 3, kw: 3,
                  g: .init(stride: 2, padding: 1, outputPadding: 1, groups: 3)),
        ConvTCase(name: "op < dilation", n: 1, cin: 2, h: 4, w: 3, coutg: 2, kh: 3, kw: 2,
                  g: .init(stride: 1, padding: 0, outputPadding: 1, dilation: 2)),
        ConvTCase(name: "1x1", n: 2, cin: 4, h: 3, w: 3, coutg: 5, kh: 1, kw: 1, g: .init()),
        ConvTCase(name: "k4 s3 p2 op2", n: 1, cin: 2, h: 3, w: 4, coutg: 2, kh: 4, kw: 4,
                  g: .init(stride: 3, padding: 2, outputPadding: 2)),
    ]

    func testConvTranspose2DForwardMatchesNaive() {
        var rng = SeededRNG(seed: 4)
        withBlockSizes { blocks, backend in
            for cs in Self.convTCases {
                let x = Tensor.randn([cs.n, cs.cin, cs.h, cs.w], rng: &rng)
                let w = Tensor.randn([cs.cin, cs.coutg, cs.kh, cs.kw], rng: &rng)
                let b = Tensor.randn([cs.coutg * cs.g.groups], rng: &rng)
                assertClose(try! ConvTranspose2D.forward(x, weight: w, bias: b, cs.g, backend: backend), Self.naiveConvT(x, w, b, cs.g),
                            tol: 1e-5, "\(cs.name), \(blocks)")
            }
        }
    }

    func testConvTranspose2DGradients() {
        var rng = SeededRNG(seed: 5)
        withBlockSizes { blocks, backend in
            for cs in Self.convTCases {
                let x = Tensor.randn([cs.n, cs.cin, cs.h, cs.w], rng: &rng)
                let w = Tensor.randn([cs.cin, cs.coutg, cs.kh, cs.kw], rng: &rng, scale: 0.5)
                let b = Tensor.randn([cs.coutg * cs.g.groups], rng: &rng)
                let y = try! ConvTranspose2D.forward(x, weight: w, bias: b, cs.g, backend: backend)
                let proj = GradCheck.projection(for: y.shape)
                let gr = try! ConvTranspose2D.backward(proj, input: x, weight: w, cs.g, backend: backend)
                let msg = "\(cs.name), \(blocks)"
                checkGrad(x, analytic: gr.dx, proj: proj, "\(msg) dx") { try! ConvTranspose2D.forward($0, weight: w, bias: b, cs.g, backend: backend) }
                checkGrad(w, analytic: gr.dWeight, proj: proj, "\(msg) dW") { try! ConvTranspose2D.forward(x, weight: $0, bias: b, cs.g, backend: backend) }
                checkGrad(b, analytic: gr.dBias, proj: proj, "\(msg) db") { try! ConvTranspose2D.forward(x, weight: w, bias: $0, cs.g, backend: backend) }
                XCTAssertNil(try! ConvTranspose2D.backward(proj, input: x, weight: w, cs.g, needInputGrad: false, backend: backend).dx)
            }
        }
    }

    // MARK: pooling

    /// Distinct values 0.05 apart (shuffled), so a ±1e-2 probe never changes which element is the max.
    static func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededRNG(seed: seed)
        let n = shape.reduce(1, *)
        var v = (0..<n).map { Float($0) * 0.05 - Float(n) * 0.025 }
        v.shuffle(using: &rng)
        return Tensor(shape: shape, data: v)
    }

    struct PoolCase { var name: String; var shape: [Int]; var k, s, p: Int; var ceil: Bool }
    static let poolCases: [PoolCase] = [
        PoolCase(name: "k2 s2", shape: [2, 2, 6, 4], k: 2, s: 2, p: 0, ceil: false),
        PoolCase(name: "k3 s2 p1 odd", shape: [1, 3, 7, 5], k: 3, s: 2, p: 1, ceil: false),
        PoolCase(name: "k3 s2 p1 ceil", shape: [1, 2, 8, 6], k: 3, s: 2, p: 1, ceil: true),
        PoolCase(name: "k2 s2 ceil odd", shape: [2, 1, 7, 5], k: 2, s: 2, p: 0, ceil: true),
        PoolCase(name: "k3 s1 p1", shape: [1, 2, 5, 4], k: 3, s: 1, p: 1, ceil: false),
        PoolCase(name: "k3 s3 ceil", shape: [1, 1, 7, 8], k: 3, s: 3, p: 0, ceil: true),
    ]

    func testMaxPoolForwardAndGradients() {
        for (ci, cs) in Self.poolCases.enumerated() {
            let x = Self.distinct(cs.shape, seed: UInt64(10 + ci))
            let (y, arg) = Pool2D.maxForward(x, kernel: cs.k, stride: cs.s, padding: cs.p, ceilMode: cs.ceil)
            // Naive forward: max over the in-range window.
            let (h, w, oh, ow) = (cs.shape[2], cs.shape[3], y.shape[2], y.shape[3])
            XCTAssertEqual(oh, Pool2D.outputSize(h, kernel: cs.k, stride: cs.s, padding: cs.p, ceilMode: cs.ceil))
            for pl in 0..<(cs.shape[0] * cs.shape[1]) { for i in 0..<oh { for j in 0..<ow {
                var m = -Float.infinity
                for a in max(0, i * cs.s - cs.p)..<min(h, i * cs.s - cs.p + cs.k) {
                    for b in max(0, j * cs.s - cs.p)..<min(w, j * cs.s - cs.p + cs.k) { m = max(m, x.data[(pl * h + a) * w + b]) }
                }
                let o = (pl * oh + i) * ow + j
                XCTAssertEqual(y.data[o], m, cs.name)
                XCTAssertEqual(x.data[Int(arg[o])], m, cs.name)
            }}}
            let proj = GradCheck.projection(for: y.shape)
            let dx = Pool2D.maxBackward(proj, argmax: arg, inputShape: x.shape)
            checkGrad(x, analytic: dx, proj: proj, "max \(cs.name)") {
                Pool2D.maxForward($0, kernel: cs.k, stride: cs.s, padding: cs.p, ceilMode: cs.ceil).y
            }
        }
    }

    func testPoolOutputSizesFollowPyTorch() {
        // torch: max_pool2d(k=3, s=2, p=1, ceil_mode=True) on 8 → 5; k2 s2 ceil on 7 → 4; k3 s3 ceil on 7 → 3.
        XCTAssertEqual(Pool2D.outputSize(8, kernel: 3, stride: 2, padding: 1, ceilMode: true), 5)
        XCTAssertEqual(Pool2D.outputSize(8, kernel: 3, stride: 2, padding: 1, ceilMode: false), 4)
        XCTAssertEqual(Pool2D.outputSize(7, kernel: 2, stride: 2, padding: 0, ceilMode: true), 4)
        XCTAssertEqual(Pool2D.outputSize(7, kernel: 3, stride: 3, padding: 0, ceilMode: true), 3)
        XCTAssertEqual(Pool2D.outputSize(6, kernel: 2, stride: 2, padding: 1, ceilMode: true), 4)
    }

    func testAvgPoolForwardAndGradients() {
        var rng = SeededRNG(seed: 6)
        for cs in Self.poolCases {
            for include in [true, false] {
                let x = Tensor.randn(cs.shape, rng: &rng)
                let f = { (t: Tensor) in
                    Pool2D.avgForward(t, kernel: cs.k, stride: cs.s, padding: cs.p, ceilMode: cs.ceil, countIncludePad: include)
                }
                let y = f(x)
                // Naive forward.
                let (h, w, oh, ow) = (cs.shape[2], cs.shape[3], y.shape[2], y.shape[3])
                for pl in 0..<(cs.shape[0] * cs.shape[1]) { for i in 0..<oh { for j in 0..<ow {
                    let h0 = i * cs.s - cs.p, w0 = j * cs.s - cs.p
                    let h1 = min(h0 + cs.k, h + cs.p), w1 = min(w0 + cs.k, w + cs.p)
                    var sum: Float = 0, n = 0
                    for a in max(0, h0)..<min(h, h1) { for b in max(0, w0)..<min(w, w1) { sum += x.data[(pl * h + a) * w + b]; n += 1 } }
                    let div = include ? (h1 - h0) * (w1 - w0) : n
                    XCTAssertEqual(y.data[(pl * oh + i) * ow + j], sum / Float(div), accuracy: 1e-5, cs.name)
                }}}
                let proj = GradCheck.projection(for: y.shape)
                let dx = Pool2D.avgBackward(proj, inputShape: x.shape, kernel: cs.k, stride: cs.s, padding: cs.p,
                                            ceilMode: cs.ceil, countIncludePad: include)
                checkGrad(x, analytic: dx, proj: proj, "avg \(cs.name) includePad \(include)", f)
            }
        }
    }

    // MARK: bilinear

    func testBilinearGradients() {
        var rng = SeededRNG(seed: 7)
        let cases: [([Int], Int, Int)] = [
            ([2, 2, 5, 7], 10, 14),   // up ×2
            ([1, 3, 7, 5], 3, 4),     // down
            ([1, 2, 4, 6], 9, 11),    // up to odd
            ([1, 1, 6, 5], 6, 3),     // one axis unchanged
            ([1, 2, 5, 4], 1, 7),     // size 1
        ]
        for (shape, oh, ow) in cases {
            for ac in [false, true] {
                let x = Tensor.randn(shape, rng: &rng)
                let y = BilinearResize.forward(x, height: oh, width: ow, alignCorners: ac)
                XCTAssertEqual(y.shape, [shape[0], shape[1], oh, ow])
                let proj = GradCheck.projection(for: y.shape)
                let dx = BilinearResize.backward(proj, inputShape: shape, alignCorners: ac)
                checkGrad(x, analytic: dx, proj: proj, "bilinear \(shape) → \(oh)×\(ow) alignCorners \(ac)") {
                    BilinearResize.forward($0, height: oh, width: ow, alignCorners: ac)
                }
            }
        }
    }

    func testBilinearKnownValues() {
        // 1×1×2×2 [[0, 1], [2, 3]] → 3×3 with align_corners: the corners stay, the centre is 1.5.
        let x = Tensor(shape: [1, 1, 2, 2], data: [0, 1, 2, 3])
        let y = BilinearResize.forward(x, height: 3, width: 3, alignCorners: true)
        XCTAssertEqual(y.data, [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3])
        // Same size without align_corners is the identity.
        XCTAssertEqual(BilinearResize.forward(x, height: 2, width: 2, alignCorners: false), x)
        // ×2 up without align_corners: row 0 = [0, 0.25, 0.75, 1] (torch).
        let up = BilinearResize.forward(x, height: 4, width: 4, alignCorners: false)
        XCTAssertEqual(Array(up.data[0..<4]), [0, 0.25, 0.75, 1])
    }
}
