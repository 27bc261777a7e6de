/// Exact (erf) GELU, as nn.GELU(): y = x·Φ(x) = ½·x·(1 + erf(x/√2)).
/// SIMD8 kernel; erf by Abramowitz–Stegun 7.1.26 (see SIMDMath), so the error against
/// libm's erff stays below 1e-6 absolute (measured in DenseOpsTests).
public enum GELU {
    public static func forward(_ x: Tensor) -> Tensor {
        mapSIMD(x) { v in
            F8(repeating: 0.5) * v * twoPhi(v).cdf2
        }
    }

    /// dy · (Φ(x) + x·φ(x)), φ(x) = e^{−x²/2}/√(2π).
    public static func backward(_ dy: Tensor, input x: Tensor) -> Tensor {
        mapSIMD2(dy, x, op: "GELU.backward") { g, v in
            let (cdf2, gauss) = twoPhi(v)
            return g * (F8(repeating: 0.5) * cdf2 + v * F8(repeating: 0.398_942_280_4) * gauss)
        }
    }

    /// 2·Φ(x) = 1 + erf(x/√2), computed as erfc(|x|/√2) for x < 0 so the negative tail
    /// keeps its relative accuracy; also returns e^{−x²/2}.
    @inline(__always)
    static func twoPhi(_ v: F8) -> (cdf2: F8, gauss: F8) {
        let (q, e) = SIMDMath.erfcAbs(v * F8(repeating: 0.707_106_781_2))
        let cdf2 = (F8(repeating: 2) - q).replacing(with: q, where: v .< F8(repeating: 0))
        return (cdf2, e)
    }
}
