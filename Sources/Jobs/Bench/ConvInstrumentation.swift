import Network

/// Benchmark instrumentation of a model's convolutions, as decorators of its `ConvBackend`:
/// a benchmark builds its models with a context whose backend is one of these wrapping the
/// real engine, so the engines themselves carry no counters and cost nothing when no bench runs.

/// Records the distinct convolutions a model runs, for `bench conv` to time every shape of g,
/// the encoder and h: every call through the backend, and the ones the frozen encoder runs in
/// its own fused kernels (`noteFusedConvolution`). Records only while `isRecording`.
public final class RecordingConvBackend: ConvBackend {
    public let wrapped: any ConvBackend
    public var isRecording = false
    /// In first-seen order, without repeats.
    public private(set) var shapes: [ConvCallShape] = []
    /// How many calls each shape had.
    public private(set) var counts: [ConvCallShape: Int] = [:]

    public init(wrapping backend: any ConvBackend) { wrapped = backend }

    public func start() { shapes = []; counts = [:]; isRecording = true }

    /// The distinct shapes recorded since `start`, with their call counts.
    public func stop() -> [(shape: ConvCallShape, calls: Int)] {
        isRecording = false
        return shapes.map { ($0, counts[$0]!) }
    }

    private func add(_ s: ConvCallShape?) {
        guard isRecording, let s else { return }
        if counts[s] == nil { shapes.append(s) }
        counts[s, default: 0] += 1
    }

    public var engineName: String { wrapped.engineName }

    public func conv2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                              activation: ConvActivation) throws -> Tensor {
        if isRecording { add(ConvCallShape(input: x.shape, weight: weight.shape, g)) }
        return try wrapped.conv2DForward(x, weight: weight, bias: bias, g, activation: activation)
    }

    public func conv2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                               needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        try wrapped.conv2DBackward(dy, input: x, weight: weight, g, needInputGrad: needInputGrad)
    }

    public func convTranspose2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?,
                                       _ g: ConvTranspose2DGeometry) throws -> Tensor {
        if isRecording { add(ConvCallShape(input: x.shape, weight: weight.shape, g)) }
        return try wrapped.convTranspose2DForward(x, weight: weight, bias: bias, g)
    }

    public func convTranspose2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                                        needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        try wrapped.convTranspose2DBackward(dy, input: x, weight: weight, g, needInputGrad: needInputGrad)
    }

    public func noteFusedConvolution(_ call: @autoclosure () -> ConvCallShape?) {
        if isRecording { add(call()) }
        wrapped.noteFusedConvolution(call())
    }
}

/// Counts the multiply-adds of the Conv2D calls that run through it (forward, backward-data
/// and backward-weights; one pass each is output elements × C/groups·kH·kW), for `bench
/// train`'s GFLOP/s figure of g's convolutions. Counts only while `isCounting`.
public final class FLOPCountingConvBackend: ConvBackend {
    public let wrapped: any ConvBackend
    public var isCounting = false
    public private(set) var multiplyAdds: Double = 0

    public init(wrapping backend: any ConvBackend) { wrapped = backend }

    public func reset() { multiplyAdds = 0 }

    /// Multiply-adds of one pass producing (or consuming, for the backward passes) `outputs`
    /// elements of a convolution with weight shape `w`.
    private static func macs(_ outputs: Int, _ w: [Int]) -> Double { Double(outputs) * Double(w[1] * w[2] * w[3]) }

    public var engineName: String { wrapped.engineName }

    public func conv2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Conv2DGeometry,
                              activation: ConvActivation) throws -> Tensor {
        let y = try wrapped.conv2DForward(x, weight: weight, bias: bias, g, activation: activation)
        if isCounting { multiplyAdds += Self.macs(y.count, weight.shape) }
        return y
    }

    public func conv2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: Conv2DGeometry,
                               needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let r = try wrapped.conv2DBackward(dy, input: x, weight: weight, g, needInputGrad: needInputGrad)
        if isCounting { multiplyAdds += Self.macs(dy.count, weight.shape) * (needInputGrad ? 2 : 1) }
        return r
    }

    public func convTranspose2DForward(_ x: Tensor, weight: Tensor, bias: Tensor?,
                                       _ g: ConvTranspose2DGeometry) throws -> Tensor {
        try wrapped.convTranspose2DForward(x, weight: weight, bias: bias, g)
    }

    public func convTranspose2DBackward(_ dy: Tensor, input x: Tensor, weight: Tensor, _ g: ConvTranspose2DGeometry,
                                        needInputGrad: Bool) throws -> (dx: Tensor?, dWeight: Tensor, dBias: Tensor) {
        try wrapped.convTranspose2DBackward(dy, input: x, weight: weight, g, needInputGrad: needInputGrad)
    }

    public func noteFusedConvolution(_ call: @autoclosure () -> ConvCallShape?) { wrapped.noteFusedConvolution(call()) }
}
