/// Fully connected layer, PyTorch layout: y = x·Wᵀ + b with x [..., in], W [out, in], b [out].
/// All leading dimensions of x are flattened into M rows; one sgemm per pass, no copies.
public enum Linear {
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let (m, inF, outF) = check("Linear.forward", x, weight)
        if let b = bias {
            precondition(b.shape == [outF], "Linear.forward: bias \(b.shape) must be [\(outF)] for weight \(weight.shape)")
        }
        var y = [Float](repeating: 0, count: m * outF)
        withPointers(x, weight, bias, mutating: &y) { xp, wp, bp, yp in
            guard m > 0, outF > 0 else { return }
            var beta: Float = 0
            if let bp {   // seed every row with the bias and accumulate the product onto it
                for r in 0..<m { (yp + r * outF).update(from: bp, count: outF) }
                beta = 1
            }
            sgemm(transB: true, m: m, n: outF, k: inF, a: xp, b: wp, beta: beta, c: yp)
        }
        return Tensor(shape: Array(x.shape.dropLast()) + [outF], data: y)
    }

    /// dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy. `dBias` is returned even for a bias-free layer.
    public static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor,
                                needInputGrad: Bool = true) -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let (m, inF, outF) = check("Linear.backward", x, weight)
        precondition(dy.shape == Array(x.shape.dropLast()) + [outF],
                     "Linear.backward: dy \(dy.shape) does not match input \(x.shape) and weight \(weight.shape)")
        var dW = [Float](repeating: 0, count: outF * inF)
        var dB = [Float](repeating: 0, count: outF)
        var dx: [Float]? = needInputGrad ? [Float](repeating: 0, count: m * inF) : nil
        if m > 0 && outF > 0 && inF > 0 {
            withPointers(dy, x, weight, mutating: &dW, &dx, &dB) { g, xp, wp, dwp, dxp, db in
                sgemm(transA: true, m: outF, n: inF, k: m, a: g, b: xp, c: dwp)
                if let dxp { sgemm(m: m, n: inF, k: outF, a: g, b: wp, c: dxp) }
                for r in 0..<m {
                    let row = g + r * outF
                    for o in 0..<outF { db[o] += row[o] }
                }
            }
        }
        return (dx.map { Tensor(shape: x.shape, data: $0) },
                Tensor(shape: [outF, inF], data: dW), Tensor(shape: [outF], data: dB))
    }

    private static func check(_ op: String, _ x: Tensor, _ w: Tensor) -> (m: Int, inF: Int, outF: Int) {
        precondition(w.rank == 2 && x.rank >= 1 && x.dim(-1) == w.shape[1],
                     "\(op): input \(x.shape) needs last dimension = weight [out, in] \(w.shape)'s in")
        let inF = w.shape[1]
        return (inF == 0 ? 0 : x.count / inF, inF, w.shape[0])
    }
}
