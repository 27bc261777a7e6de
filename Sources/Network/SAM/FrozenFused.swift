import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Fused forward paths for the frozen encoder (no backward: TinyViT is frozen). They compute the
/// same functions as the plain Conv2D / GELU / add chain, with the bias, the activation and the
/// residual folded into the pass that produces each value, and no full-size temporaries:
///   - 1×1 convolutions: one sgemm per image on NCHW (no layout reorders), then bias (+ GELU)
///     in place;
///   - depthwise 3×3, stride 1: a direct AVX2 row kernel (CKernels) with bias (+ GELU);
///   - MBConv: strips of rows through conv1 → GELU → depthwise → GELU → conv3 → +x → GELU,
///     its 4×-wide hidden activation only ever held for a strip (see `MBConv.callAsFunction`).
enum FrozenFused {
    /// A Float array of `count` values, uninitialised (every caller writes all of them).
    @inline(__always)
    static func uninitialized(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, n in n = count }
    }

    /// GELU (and an optional per-row bias) in place over rows of `cols` values, `ld` apart.
    static func biasGELU(_ p: UnsafeMutablePointer<Float>, ld: Int, bias: UnsafePointer<Float>?, rows: Int, cols: Int,
                         gelu: Bool = true) {
        ck_bias_gelu_rows(p, ld, bias, rows, cols, gelu ? 1 : 0)
    }

    /// t = GELU(t) in place (any shape).
    static func geluInPlace(_ t: inout Tensor) {
        let n = t.count
        withPointers(mutating: &t) { ck_bias_gelu_rows($0, n, nil, 1, n, 1) }
    }
}

extension FrozenConv2D {
    var isPointwise: Bool {
        weight.shape[2] == 1 && weight.shape[3] == 1 && geometry.groups == 1
            && geometry.strideH == 1 && geometry.strideW == 1 && geometry.padH == 0 && geometry.padW == 0
    }
    /// Depthwise 3×3, stride 1, padding 1, dilation 1 (one input channel per output channel).
    var isDepthwise3x3Same: Bool {
        weight.shape[1] == 1 && weight.shape[2] == 3 && weight.shape[3] == 3 && geometry.groups == weight.shape[0]
            && geometry.strideH == 1 && geometry.strideW == 1 && geometry.padH == 1 && geometry.padW == 1
            && geometry.dilationH == 1 && geometry.dilationW == 1
    }

    /// conv(x) + bias, then GELU when `gelu`; NCHW in and out. Same function as
    /// `GELU.forward(self(x))`, through the fused kernels where the shape allows.
    func forward(_ x: Tensor, gelu: Bool) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let k = weight.shape[0], hw = h * w
        if isPointwise && x.shape[1] == weight.shape[1] {
            backend.noteFusedConvolution(ConvCallShape(input: x.shape, weight: weight.shape, geometry))
            var y = Tensor(shape: [n, k, h, w], data: FrozenFused.uninitialized(n * k * hw))
            withPointers(x, weight, bias, mutating: &y) { xp, wp, bp, yp in
                for i in 0..<n {
                    let yi = yp + i * k * hw
                    sgemm(m: k, n: hw, k: c, a: wp, b: xp + i * c * hw, c: yi)
                    FrozenFused.biasGELU(yi, ld: hw, bias: bp, rows: k, cols: hw, gelu: gelu)
                }
            }
            return y
        }
        if isDepthwise3x3Same && c == k {
            backend.noteFusedConvolution(ConvCallShape(input: x.shape, weight: weight.shape, geometry))
            var y = Tensor(shape: [n, k, h, w], data: FrozenFused.uninitialized(n * k * hw))
            withPointers(x, weight, mutating: &y) { xp, wp, yp in
                for plane in 0..<(n * c) {
                    let ch = plane % c
                    FrozenFused.depthwisePlane(xp + plane * hw, w: wp + ch * 9, bias: bias?.data[ch] ?? 0,
                                               y: yp + plane * hw, h: h, width: w, gelu: gelu)
                }
            }
            return y
        }
        var y = try self(x)
        if gelu { FrozenFused.geluInPlace(&y) }
        return y
    }
}

extension FrozenFused {
    /// One channel plane of a depthwise 3×3 (stride 1, padding 1) convolution, + bias, (+ GELU).
    @inline(__always)
    static func depthwisePlane(_ x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: Float,
                               y: UnsafeMutablePointer<Float>, h: Int, width: Int, gelu: Bool) {
        for r in 0..<h {
            ck_dw3x3_row(r > 0 ? x + (r - 1) * width : nil, x + r * width, r + 1 < h ? x + (r + 1) * width : nil,
                         w, bias, y + r * width, width, gelu ? 1 : 0)
        }
    }
}
