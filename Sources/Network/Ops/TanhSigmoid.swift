/// Saturating activations; both backward passes take the forward output y.
public enum Tanh {
    public static func forward(_ x: Tensor) -> Tensor {
        mapSIMD(x) { SIMDMath.tanh($0) }
    }

    /// dy · (1 − y²)
    public static func backward(_ dy: Tensor, output y: Tensor) -> Tensor {
        mapSIMD2(dy, y, op: "Tanh.backward") { g, t in g * (F8(repeating: 1) - t * t) }
    }
}

public enum Sigmoid {
    public static func forward(_ x: Tensor) -> Tensor {
        mapSIMD(x) { SIMDMath.sigmoid($0) }
    }

    /// dy · y · (1 − y)
    public static func backward(_ dy: Tensor, output y: Tensor) -> Tensor {
        mapSIMD2(dy, y, op: "Sigmoid.backward") { g, s in g * s * (F8(repeating: 1) - s) }
    }
}
