/// An activation a convolution's forward applies to its output in the same pass (oneDNN: an
/// eltwise post-op; reference engine: a pass after the convolution). Used by the inference
/// paths, where BatchNorm is folded into the convolution and nothing is kept for backward.
public enum ConvActivation: Hashable, Sendable {
    case none, relu, relu6
    case leakyReLU(slope: Float)

    /// y = act(y) in place, the reference engine's way.
    func apply(_ y: inout Tensor) {
        switch self {
        case .none: return
        case .relu: y = ReLU.forward(y)
        case .relu6: y = ReLU6.forward(y)
        case .leakyReLU(let s): y = LeakyReLU.forward(y, slope: s)
        }
    }

    /// In place over `count` values (the oneDNN engine's way when a primitive cannot fuse it).
    func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .none: return
        case .relu: for i in 0..<count { p[i] = max(p[i], 0) }
        case .relu6: for i in 0..<count { p[i] = min(max(p[i], 0), 6) }
        case .leakyReLU(let s): for i in 0..<count { p[i] = p[i] < 0 ? p[i] * s : p[i] }
        }
    }
}
