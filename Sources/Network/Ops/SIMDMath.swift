/// SIMD8 building blocks for the elementwise kernels: exp, erf, tanh, sigmoid, and loops
/// that apply a SIMD8 body over flat buffers (full vectors, then a zero-padded tail).
/// Accuracy against libm is measured in DenseOpsTests.testSIMDMathAgainstLibm.

typealias F8 = SIMD8<Float>

enum SIMDMath {
    /// e^x, Cephes-style: x = k·ln2 + r with |r| ≤ ln2/2, degree-6 polynomial for e^r,
    /// 2^k built from the exponent bits. Inputs are clamped to [-87.3, 88.3], so the
    /// result never over- or underflows to inf / denormal (max rel. error ≈ 2e-7).
    @inline(__always)
    static func exp(_ xIn: F8) -> F8 {
        let x = xIn.replacing(with: F8(repeating: 88.3), where: xIn .> F8(repeating: 88.3))
            .replacing(with: F8(repeating: -87.3), where: xIn .< F8(repeating: -87.3))
        // Round x·log2(e) to the nearest integer with the 1.5·2^23 magic add.
        let magic = F8(repeating: 12_582_912)
        let t = x * F8(repeating: 1.442_695_04) + magic
        let k = t - magic
        var r = x - k * F8(repeating: 0.693_359_375)          // ln2, high part
        r = r - k * F8(repeating: -2.121_944_40e-4)           // ln2, low part
        var p = F8(repeating: 1.987_569_150_0e-4)
        p = p * r + F8(repeating: 1.398_199_950_7e-3)
        p = p * r + F8(repeating: 8.333_451_907_3e-3)
        p = p * r + F8(repeating: 4.166_579_589_4e-2)
        p = p * r + F8(repeating: 1.666_666_545_9e-1)
        p = p * r + F8(repeating: 5.000_000_120_1e-1)
        let er = p * (r * r) + r + F8(repeating: 1)
        // t's bit pattern is 0x4B40_0000 + k; 2^k has bits (k + 127) << 23.
        let tb = unsafeBitCast(t, to: SIMD8<Int32>.self)
        let twoK = (tb &- SIMD8<Int32>(repeating: 0x4B40_0000 - 127)) &<< SIMD8<Int32>(repeating: 23)
        return er * unsafeBitCast(twoK, to: F8.self)
    }

    /// q(x) = erfc(|x|) by Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7 in exact arithmetic),
    /// together with e^{-x²} which GELU's backward reuses.
    @inline(__always)
    static func erfcAbs(_ x: F8) -> (q: F8, expNegSq: F8) {
        let ax = x.replacing(with: -x, where: x .< F8(repeating: 0))
        let t = F8(repeating: 1) / (F8(repeating: 1) + F8(repeating: 0.327_591_1) * ax)
        var p = F8(repeating: 1.061_405_429)
        p = p * t + F8(repeating: -1.453_152_027)
        p = p * t + F8(repeating: 1.421_413_741)
        p = p * t + F8(repeating: -0.284_496_736)
        p = p * t + F8(repeating: 0.254_829_592)
        p = p * t
        let e = exp(-(x * x))
        return (p * e, e)
    }

    @inline(__always)
    static func erf(_ x: F8) -> F8 {
        let one = F8(repeating: 1)
        let pos = one - erfcAbs(x).q
        return pos.replacing(with: -pos, where: x .< F8(repeating: 0))
    }

    /// tanh(x) = sign(x)·(1 − e)/(1 + e) with e = e^{−2|x|}: no overflow, abs error ~1e-7.
    @inline(__always)
    static func tanh(_ x: F8) -> F8 {
        let neg = x .< F8(repeating: 0)
        let ax = x.replacing(with: -x, where: neg)
        let e = exp(F8(repeating: -2) * ax)
        let r = (F8(repeating: 1) - e) / (F8(repeating: 1) + e)
        return r.replacing(with: -r, where: neg)
    }

    /// 1/(1 + e^{−x}); the clamped exp keeps both tails finite.
    @inline(__always)
    static func sigmoid(_ x: F8) -> F8 {
        F8(repeating: 1) / (F8(repeating: 1) + exp(-x))
    }
}

// MARK: - Loops over flat buffers

@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i * 4, as: F8.self)
}

@inline(__always)
func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, toByteOffset: i * 4, as: F8.self)
}

/// Loads `n` (< 8) values into a vector padded with `fill`.
@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ i: Int, _ n: Int, fill: Float = 0) -> F8 {
    var v = F8(repeating: fill)
    for j in 0..<n { v[j] = p[i + j] }
    return v
}

@inline(__always)
func storePartial(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
    for j in 0..<n { p[i + j] = v[j] }
}

/// out[i] = body(x[i]) for a whole tensor, eight lanes at a time.
/// The output array is created uninitialised and written once (no zero-fill pass).
@inline(__always)
func mapSIMD(_ x: Tensor, _ body: (F8) -> F8) -> Tensor {
    let n = x.count
    let out = [Float](unsafeUninitializedCapacity: n) { ob, written in
        x.data.withUnsafeBufferPointer { xb in
            guard let xp = xb.baseAddress, let op = ob.baseAddress else { return }
            var i = 0
            while i + 8 <= n { store8(body(load8(xp, i)), op, i); i += 8 }
            if i < n { storePartial(body(loadPartial(xp, i, n - i)), op, i, n - i) }
        }
        written = n
    }
    return Tensor(shape: x.shape, data: out)
}

/// out[i] = body(a[i], b[i]) for two same-shape tensors (a gradient and a saved tensor).
@inline(__always)
func mapSIMD2(_ a: Tensor, _ b: Tensor, op name: String, _ body: (F8, F8) -> F8) -> Tensor {
    precondition(a.shape == b.shape, "\(name): shapes differ: \(a.shape) vs \(b.shape)")
    let n = a.count
    let out = [Float](unsafeUninitializedCapacity: n) { ob, written in
        withPointers(a, b) { ap, bp in
            guard let op = ob.baseAddress else { return }
            var i = 0
            while i + 8 <= n { store8(body(load8(ap, i), load8(bp, i)), op, i); i += 8 }
            if i < n {
                let r = n - i
                storePartial(body(loadPartial(ap, i, r), loadPartial(bp, i, r)), op, i, r)
            }
        }
        written = n
    }
    return Tensor(shape: a.shape, data: out)
}

/// Sum of p[0..<n], eight partial sums at a time.
@inline(__always)
func sumSIMD(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = F8(repeating: 0)
    var i = 0
    while i + 8 <= n { acc += load8(p, i); i += 8 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}
