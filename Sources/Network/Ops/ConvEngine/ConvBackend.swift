/// How Conv2D and ConvTranspose2D are computed: one conforming type per engine
/// (`ReferenceConvBackend`, `OneDNNConvBackend`), chosen once by the caller and held by the
/// model through its `ExecutionContext`. The ops take it as a parameter; nothing reads a global.
///
/// Every method has the contract of the op it backs (`Conv2D.forward`, `Conv2D.backward`,
/// `ConvTranspose2D.forward`, `ConvTranspose2D.backward`): PyTorch semantics, NCHW tensors.
/// Instrumentation (shape recording, FLOP counting) wraps a backend from outside as a
/// decorator conforming to this protocol; the engines carry none of it.
///
/// A backend is a reference type: the oneDNN one caches primitives and a workspace, and a
/// decorator's counters must be seen by whoever installed it. A backend is used by one thread
/// at a time unless it says otherwise (the oneDNN one locks its state).
public protocol ConvBackend: AnyObject {
    /// The engine's name as reports print it ("reference", "onednn"); a decorator returns the
    /// name of the engine it wraps.
    var engineName: String { get }

    /// x [N,C,H,W], weight [K, C/groups, kH, kW], bias [K] or nil → y [N,K,OH,OW] with
    /// `activation` applied (fused into the convolution where the engine can).
    func conv2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                       activation: ConvActivation) throws -> Tensor

    /// Backward data (dx, nil when `needInputGrad` is false) and backward weights (dWeight,
    /// dBias = Σ dy over N, OH, OW).
    func conv2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                        needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor)

    /// x [N,Cin,H,W], weight [Cin, Cout/groups, kH, kW], bias [Cout] or nil → y [N,Cout,OH,OW].
    func convTranspose2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?,
                                _ g: ConvTranspose2DGeometry) throws -> Tensor

    /// dx like x (nil when `needInputGrad` is false), dWeight like weight, dBias [Cout].
    func convTranspose2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                                 needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor)

    /// Told of a convolution a layer ran in its own fused kernel instead of through this
    /// backend (the frozen encoder's 1×1 and depthwise paths), for decorators that record
    /// shapes. The engines ignore it (the default), so the shape is never even formed.
    func noteFusedConvolution(_ call: @autoclosure () -> ConvCallShape?)
}

extension ConvBackend {
    public func noteFusedConvolution(_ call: @autoclosure () -> ConvCallShape?) {}
}

/// One convolution call as a benchmark describes it: input [n, c, h, w], k output channels
/// (a transposed convolution's c is its input side), kernel, geometry (symmetric strides,
/// padding and dilation).
public struct ConvCallShape: Hashable, Sendable {
    public var n, c, k, h, w, kh, kw, stride, pad, dilation, groups: Int
    public var transposed: Bool
    public var outputPadding: Int

    public init(n: Int, c: Int, k: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int, pad: Int,
                dilation: Int, groups: Int, transposed: Bool = false, outputPadding: Int = 0) {
        self.n = n; self.c = c; self.k = k; self.h = h; self.w = w; self.kh = kh; self.kw = kw
        self.stride = stride; self.pad = pad; self.dilation = dilation; self.groups = groups
        self.transposed = transposed; self.outputPadding = outputPadding
    }

    /// A Conv2D call with x of shape `input` and a weight of shape `weight`; nil when the
    /// geometry is not symmetric (no benchmark row describes it).
    public init?(input x: [Int], weight w: [Int], _ g: Conv2DGeometry) {
        guard g.strideH == g.strideW, g.padH == g.padW, g.dilationH == g.dilationW else { return nil }
        self.init(n: x[0], c: x[1], k: w[0], h: x[2], w: x[3], kh: w[2], kw: w[3], stride: g.strideH,
                  pad: g.padH, dilation: g.dilationH, groups: g.groups)
    }

    /// A ConvTranspose2D call with x of shape `input` and a weight of shape `weight`.
    public init(input x: [Int], weight w: [Int], _ g: ConvTranspose2DGeometry) {
        self.init(n: x[0], c: x[1], k: w[1] * g.groups, h: x[2], w: x[3], kh: w[2], kw: w[3], stride: g.stride,
                  pad: g.padding, dilation: g.dilation, groups: g.groups, transposed: true,
                  outputPadding: g.outputPadding)
    }
}

/// The reference engine: im2col + sgemm (`ConvKernels`), the one the finite-difference tests
/// check. Immutable; `columnBudget` is the floats of one im2col block (tests lower it to
/// exercise blocks of one or two rows).
public final class ReferenceConvBackend: ConvBackend, Sendable {
    /// 256 K floats = 1 MB: stays in L2 next to sgemm's packed panels.
    public static let defaultColumnBudget = 1 << 18

    public let columnBudget: Int

    public init(columnBudget: Int = ReferenceConvBackend.defaultColumnBudget) {
        precondition(columnBudget >= 1, "ReferenceConvBackend: columnBudget must be at least 1")
        self.columnBudget = columnBudget
    }

    public var engineName: String { ConvEngine.reference.rawValue }

    public func conv2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                              activation: ConvActivation) -> Tensor {
        var y = Conv2D.forwardReference(x, weight: weight, bias: bias, g, columnBudget: columnBudget)
        activation.apply(&y)
        return y
    }

    public func conv2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                               needInputGrad: Bool) -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        Conv2D.backwardReference(dy, input: x, weight: weight, g, needInputGrad: needInputGrad, columnBudget: columnBudget)
    }

    public func convTranspose2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?,
                                       _ g: ConvTranspose2DGeometry) -> Tensor {
        ConvTranspose2D.forwardReference(x, weight: weight, bias: bias, g, columnBudget: columnBudget)
    }

    public func convTranspose2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                                        needInputGrad: Bool) -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        ConvTranspose2D.backwardReference(dy, input: x, weight: weight, g, needInputGrad: needInputGrad,
                                          columnBudget: columnBudget)
    }
}
