/// An activation a convolution's forward applies to its output in the same pass (oneDNN: an
/// eltwise post-op; reference engine: a pass after the convolution). Used by the inference
/// paths, where BatchNorm is folded into the convolution and nothing is kept for backward.
public enum ConvActivation: Hashable, Sendable {
    case none, relu, relu6
    case leakyReLU(slope: Float)

    /// y = act(y), for an engine that did not fuse it into the convolution.
    func apply(_ y: inout Tensor) {
        switch self {
        case .none: return
        case .relu: y = ReLU.forward(y)
        case .relu6: y = ReLU6.forward(y)
        case .leakyReLU(let s): y = LeakyReLU.forward(y, slope: s)
        }
    }
}
