/// Piecewise-linear activations: ReLU, ReLU6, LeakyReLU. The backward passes take the
/// forward input; at the kinks they use PyTorch's choice (gradient of the x > 0 branch is
/// taken only for x > 0; ReLU6 passes the gradient for 0 < x < 6).
public enum ReLU {
    public static func forward(_ x: Tensor) -> Tensor {
        mapSIMD(x) { v in v.replacing(with: 0, where: v .< F8(repeating: 0)) }
    }

    public static func backward(_ dy: Tensor, input x: Tensor) -> Tensor {
        mapSIMD2(dy, x, op: "ReLU.backward") { g, v in g.replacing(with: 0, where: v .<= F8(repeating: 0)) }
    }
}

public enum ReLU6 {
    public static func forward(_ x: Tensor) -> Tensor {
        mapSIMD(x) { v in
            v.replacing(with: 0, where: v .< F8(repeating: 0)).replacing(with: 6, where: v .> F8(repeating: 6))
        }
    }

    public static func backward(_ dy: Tensor, input x: Tensor) -> Tensor {
        mapSIMD2(dy, x, op: "ReLU6.backward") { g, v in
            g.replacing(with: 0, where: (v .<= F8(repeating: 0)) .| (v .>= F8(repeating: 6)))
        }
    }
}

public enum LeakyReLU {
    public static func forward(_ x: Tensor, slope: Float = 0.01) -> Tensor {
        mapSIMD(x) { v in v.replacing(with: v * slope, where: v .< F8(repeating: 0)) }
    }

    public static func backward(_ dy: Tensor, input x: Tensor, slope: Float = 0.01) -> Tensor {
        mapSIMD2(dy, x, op: "LeakyReLU.backward") { g, v in
            g.replacing(with: g * slope, where: v .<= F8(repeating: 0))
        }
    }
}
