import XCTest
@testable import Network

/// The oneDNN engine against the reference (im2col + sgemm) engine, forward and both backward
/// directions, on random shapes. Metric: max |onednn − reference| / max |reference| over the
/// whole tensor (`maxRelativeError`), must be ≤ 1e-4.
final class OneDNNConvTests: XCTestCase {
    let tol: Float = 1e-4
    let ref = ReferenceConvBackend()
    /// A backend of this test's own (Winograd as AUTOSAM_CONV_WINOGRAD says, default on).
    var dnn: OneDNNConvBackend!

    override func setUpWithError() throws {
        guard ConvEngine.isOneDNNAvailable else {
            throw XCTSkip("libdnnl (libdnnl-dev) cannot be loaded on this machine")
        }
        dnn = try OneDNNConvBackend(winograd: ExecutionContext.environmentAllowsWinograd())
    }

    func close(_ a: Tensor?, _ b: Tensor?, _ msg: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let a, let b else { return XCTFail("\(msg): missing tensor", file: file, line: line) }
        XCTAssertEqual(a.shape, b.shape, msg, file: file, line: line)
        guard a.shape == b.shape else { return }
        let err = maxRelativeError(a, b)
        XCTAssertLessThanOrEqual(err, tol, "\(msg): max relative error \(err)", file: file, line: line)
    }

    struct Case {
        var n, c, h, w, k, kh, kw: Int
        var g: Conv2DGeometry
    }

    /// Fixed cases covering each feature, then random ones.
    func conv2DCases() -> [Case] {
        var cases: [Case] = [
            Case(n: 2, c: 5, h: 13, w: 11, k: 7, kh: 3, kw: 3, g: .init(padding: 1)),                    // odd sizes
            Case(n: 2, c: 6, h: 15, w: 9, k: 8, kh: 3, kw: 3, g: .init(stride: 2, padding: 1)),          // stride 2
            Case(n: 1, c: 4, h: 12, w: 13, k: 6, kh: 3, kw: 3, g: .init(padding: 2, dilation: 2)),       // dilation 2
            Case(n: 1, c: 3, h: 14, w: 11, k: 5, kh: 3, kw: 3, g: .init(stride: 2, dilation: 2)),        // stride+dil, unpadded
            Case(n: 2, c: 12, h: 9, w: 10, k: 8, kh: 3, kw: 3, g: .init(padding: 1, groups: 4)),         // groups > 1
            Case(n: 2, c: 16, h: 11, w: 9, k: 16, kh: 3, kw: 3, g: .init(padding: 1, groups: 16)),       // depthwise
            Case(n: 1, c: 24, h: 13, w: 13, k: 24, kh: 3, kw: 3, g: .init(stride: 2, padding: 1, groups: 24)),
            Case(n: 1, c: 8, h: 10, w: 10, k: 16, kh: 5, kw: 5, g: .init(padding: 2, groups: 8)),        // depthwise ×2
            Case(n: 2, c: 20, h: 7, w: 9, k: 12, kh: 1, kw: 1, g: .init()),                              // 1×1
            Case(n: 1, c: 9, h: 9, w: 7, k: 6, kh: 1, kw: 1, g: .init(stride: 2)),                       // 1×1 stride 2
            Case(n: 2, c: 16, h: 12, w: 10, k: 1, kh: 1, kw: 1, g: .init()),                              // 1×1 to 1 (plain layout)
            Case(n: 2, c: 3, h: 11, w: 9, k: 32, kh: 1, kw: 1, g: .init()),                               // 1×1 from 3 (plain layout)
            Case(n: 1, c: 6, h: 10, w: 12, k: 6, kh: 1, kw: 1, g: .init(groups: 3)),                     // 1×1 groups
            Case(n: 1, c: 3, h: 17, w: 15, k: 8, kh: 7, kw: 7, g: .init(stride: 2, padding: 3)),         // stem-like
            Case(n: 1, c: 4, h: 8, w: 11, k: 5, kh: 2, kw: 3,
                 g: .init(strideH: 2, strideW: 1, padH: 0, padW: 2, dilationH: 1, dilationW: 2)),        // asymmetric
            Case(n: 2, c: 48, h: 16, w: 16, k: 24, kh: 3, kw: 3, g: .init(padding: 1)),                  // HarDNet-like
        ]
        var rng = SeededRNG(seed: 77)
        func r(_ lo: Int, _ hi: Int) -> Int { lo + Int(rng.nextUniform() * Float(hi - lo + 1)) % (hi - lo + 1) }
        for _ in 0..<12 {
            let groups = [1, 1, 2, 3][r(0, 3)]
            let cg = r(1, 6), kg = r(1, 6)
            let k = [1, 3, 3, 5][r(0, 3)]
            let g = Conv2DGeometry(stride: r(1, 2), padding: r(0, k / 2 + 1), dilation: r(1, 2), groups: groups)
            let ext = g.dilationH * (k - 1) + 1
            cases.append(Case(n: r(1, 3), c: cg * groups, h: r(ext, ext + 10), w: r(ext, ext + 10),
                              k: kg * groups, kh: k, kw: k, g: g))
        }
        return cases
    }

    func testConv2DMatchesReference() throws {
        var rng = SeededRNG(seed: 5)
        for cs in conv2DCases() {
            let msg = "x [\(cs.n),\(cs.c),\(cs.h),\(cs.w)] k \(cs.k) \(cs.kh)×\(cs.kw) \(cs.g)"
            let x = Tensor.randn([cs.n, cs.c, cs.h, cs.w], rng: &rng)
            let w = Tensor.randn([cs.k, cs.c / cs.g.groups, cs.kh, cs.kw], rng: &rng)
            let b = Tensor.randn([cs.k], rng: &rng)
            let yRef = try Conv2D.forward(x, weight: w, bias: b, cs.g, backend: ref)
            close(try Conv2D.forward(x, weight: w, bias: b, cs.g, backend: dnn), yRef, "\(msg) forward")
            close(try Conv2D.forward(x, weight: w, bias: nil, cs.g, backend: dnn),
                  try Conv2D.forward(x, weight: w, bias: nil, cs.g, backend: ref), "\(msg) forward, no bias")
            let dy = Tensor.randn(yRef.shape, rng: &rng)
            let ref = try Conv2D.backward(dy, input: x, weight: w, cs.g, backend: ref)
            let got = try Conv2D.backward(dy, input: x, weight: w, cs.g, backend: dnn)
            close(got.dx, ref.dx, "\(msg) backward data")
            close(got.dWeight, ref.dWeight, "\(msg) backward weights")
            close(got.dBias, ref.dBias, "\(msg) backward bias")
            XCTAssertNil(try Conv2D.backward(dy, input: x, weight: w, cs.g, needInputGrad: false, backend: dnn).dx)
        }
    }

    struct TCase {
        var n, cin, h, w, coutg, kh, kw: Int
        var g: ConvTranspose2DGeometry
    }

    func testConvTranspose2DMatchesReference() throws {
        let cases: [TCase] = [
            TCase(n: 2, cin: 6, h: 7, w: 5, coutg: 4, kh: 3, kw: 3, g: .init(stride: 2, padding: 1, outputPadding: 1)),
            TCase(n: 2, cin: 8, h: 5, w: 7, coutg: 3, kh: 2, kw: 2, g: .init(stride: 2)),
            TCase(n: 1, cin: 4, h: 9, w: 6, coutg: 5, kh: 3, kw: 3, g: .init(padding: 1)),
            TCase(n: 1, cin: 4, h: 5, w: 6, coutg: 3, kh: 3, kw: 3,
                  g: .init(stride: 2, padding: 1, outputPadding: 1, dilation: 2, groups: 2)),
            TCase(n: 1, cin: 6, h: 5, w: 7, coutg: 1, kh: 3, kw: 3,
                  g: .init(stride: 2, padding: 1, outputPadding: 1, groups: 6)),
            TCase(n: 1, cin: 3, h: 5, w: 4, coutg: 2, kh: 3, kw: 2, g: .init(stride: 1, outputPadding: 1, dilation: 2)),
            TCase(n: 2, cin: 7, h: 4, w: 5, coutg: 6, kh: 1, kw: 1, g: .init()),
            TCase(n: 1, cin: 3, h: 4, w: 5, coutg: 2, kh: 4, kw: 4, g: .init(stride: 3, padding: 2, outputPadding: 2)),
            TCase(n: 2, cin: 16, h: 8, w: 8, coutg: 4, kh: 2, kw: 2, g: .init(stride: 2)),                // h's 64→16 k2 s2
            TCase(n: 1, cin: 32, h: 6, w: 6, coutg: 8, kh: 3, kw: 3, g: .init(stride: 2, padding: 1, outputPadding: 1)),
        ]
        var rng = SeededRNG(seed: 6)
        for cs in cases {
            let msg = "x [\(cs.n),\(cs.cin),\(cs.h),\(cs.w)] cout/g \(cs.coutg) \(cs.kh)×\(cs.kw) \(cs.g)"
            let x = Tensor.randn([cs.n, cs.cin, cs.h, cs.w], rng: &rng)
            let w = Tensor.randn([cs.cin, cs.coutg, cs.kh, cs.kw], rng: &rng)
            let b = Tensor.randn([cs.coutg * cs.g.groups], rng: &rng)
            let yRef = try ConvTranspose2D.forward(x, weight: w, bias: b, cs.g, backend: ref)
            close(try ConvTranspose2D.forward(x, weight: w, bias: b, cs.g, backend: dnn), yRef, "\(msg) forward")
            let dy = Tensor.randn(yRef.shape, rng: &rng)
            let ref = try ConvTranspose2D.backward(dy, input: x, weight: w, cs.g, backend: ref)
            let got = try ConvTranspose2D.backward(dy, input: x, weight: w, cs.g, backend: dnn)
            close(got.dx, ref.dx, "\(msg) backward data")
            close(got.dWeight, ref.dWeight, "\(msg) backward weights")
            close(got.dBias, ref.dBias, "\(msg) backward bias")
        }
    }

    /// 3×3 stride-1 convolutions of g's sizes: forward and backward-data run as Winograd where
    /// the CPU has oneDNN's AVX-512 kernels (and must, there), backward-weights stays direct;
    /// all three agree with the reference to the same 1e-4. With Winograd off, all are direct.
    func testWinogradWhereItAppliesAndMatchesReference() throws {
        let avx512 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx512f") ?? false
        var rng = SeededRNG(seed: 9)
        let cases: [(n: Int, c: Int, k: Int, hw: Int)] = [(2, 412, 138, 8), (10, 48, 24, 16), (3, 96, 64, 21)]
        for allow in [true, false] {
            let dnn = try OneDNNConvBackend(winograd: allow)
            for (n, c, k, hw) in cases {
                let msg = "x [\(n),\(c),\(hw),\(hw)] → \(k), Winograd \(allow ? "allowed" : "off")"
                let x = Tensor.randn([n, c, hw, hw], rng: &rng)
                let w = Tensor.uniform([k, c, 3, 3], rng: &rng, lo: -0.05, hi: 0.05)
                let g = Conv2DGeometry(padding: 1)
                let yRef = try Conv2D.forward(x, weight: w, bias: nil, g, backend: ref)
                close(try Conv2D.forward(x, weight: w, bias: nil, g, backend: dnn), yRef, "\(msg) forward")
                let dy = Tensor.randn(yRef.shape, rng: &rng)
                let ref = try Conv2D.backward(dy, input: x, weight: w, g, backend: ref)
                let got = try Conv2D.backward(dy, input: x, weight: w, g, backend: dnn)
                close(got.dx, ref.dx, "\(msg) backward data")
                close(got.dWeight, ref.dWeight, "\(msg) backward weights")
                let algs = dnn.algorithms.filter {
                    $0.key.n == n && $0.key.c == c && $0.key.k == k && $0.key.h == hw && $0.key.winograd == allow
                        && $0.key.activation == .none
                }
                XCTAssertEqual(algs.count, 3, msg)
                for (key, alg) in algs {
                    let want: DNNLConvAlgorithm = allow && avx512 && key.direction != .backwardWeights ? .winograd : .direct
                    XCTAssertEqual(alg, want, "\(msg) \(key.direction)")
                }
            }
        }
    }

    /// Activations fused as oneDNN post-ops against the reference engine's separate pass, on
    /// outputs that cross 0 and 6.
    func testFusedActivationsMatchReference() throws {
        var rng = SeededRNG(seed: 10)
        let x = Tensor.uniform([2, 12, 9, 9], rng: &rng, lo: -3, hi: 3)
        let w = Tensor.uniform([16, 12, 3, 3], rng: &rng, lo: -0.5, hi: 0.5)
        let b = Tensor.uniform([16], rng: &rng, lo: -1, hi: 1)
        for g in [Conv2DGeometry(padding: 1), Conv2DGeometry(stride: 2, padding: 1)] {
            let plain = try Conv2D.forward(x, weight: w, bias: b, g, backend: ref)
            XCTAssertTrue(plain.data.contains { $0 > 6 } && plain.data.contains { $0 < 0 }, "outputs must cross 0 and 6")
            for act in [ConvActivation.relu, .relu6, .leakyReLU(slope: 0.01)] {
                let ref = try Conv2D.forward(x, weight: w, bias: b, g, activation: act, backend: ref)
                XCTAssertNotEqual(ref, plain, "\(act) changed nothing")
                close(try Conv2D.forward(x, weight: w, bias: b, g, activation: act, backend: dnn), ref, "\(act) \(g)")
            }
        }
    }

    func testPlansAreReusedPerShape() throws {
        var rng = SeededRNG(seed: 8)
        let x = Tensor.randn([1, 3, 9, 9], rng: &rng)
        let w = Tensor.randn([4, 3, 3, 3], rng: &rng)
        let g = Conv2DGeometry(stride: 2, padding: 1)
        let first = try Conv2D.forward(x, weight: w, bias: nil, g, backend: dnn)
        let before = dnn.planCount
        for _ in 0..<3 { XCTAssertEqual(try Conv2D.forward(x, weight: w, bias: nil, g, backend: dnn), first) }
        XCTAssertEqual(dnn.planCount, before)
    }

    func testEngineSelection() throws {
        XCTAssertEqual(try ConvEngine.resolve("reference"), .reference)
        XCTAssertTrue(try ExecutionContext.make(engine: "reference").convolution is ReferenceConvBackend)
        XCTAssertEqual(try ConvEngine.resolve("onednn"), .onednn)
        XCTAssertTrue(try ExecutionContext.make(engine: "onednn").convolution is OneDNNConvBackend)
        XCTAssertEqual(try ConvEngine.resolve("auto"), .onednn)
        XCTAssertEqual(try ExecutionContext.make(engine: "auto").convolution.engineName, "onednn")
        XCTAssertThrowsError(try ConvEngine.resolve("winograd"))
        XCTAssertThrowsError(try ExecutionContext.make(engine: "winograd"))
        let off = try XCTUnwrap(try ExecutionContext.make(engine: "onednn", winograd: false).convolution as? OneDNNConvBackend)
        XCTAssertFalse(off.winograd)
    }
}

/// The missing-library path needs no libdnnl, so it runs everywhere.
final class OneDNNMissingLibraryTests: XCTestCase {
    func testMissingLibraryErrorNamesThePackage() {
        XCTAssertThrowsError(try DNNLLibrary.load(name: "libdnnl-not-installed.so.9")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("libdnnl-dev"), "message does not name libdnnl-dev: \(text)")
            XCTAssertTrue(text.contains("libdnnl-not-installed.so.9"), text)
        }
        // The backend asked for a library that is not there throws the same error (no trap).
        XCTAssertThrowsError(try OneDNNConvBackend(libraryName: "libdnnl-not-installed.so.9")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("libdnnl-dev"), "message does not name libdnnl-dev: \(text)")
            XCTAssertTrue(text.contains("libdnnl-not-installed.so.9"), text)
        }
    }

    /// An engine name nobody knows is an error the caller sees, not a stop.
    func testUnknownEngineThrows() {
        XCTAssertThrowsError(try ExecutionContext.make(engine: "cudnn")) { error in
            XCTAssertTrue("\(error)".contains("cudnn"), "\(error)")
        }
    }
}
