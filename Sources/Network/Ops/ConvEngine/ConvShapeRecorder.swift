/// Records the distinct convolutions a model runs, for `bench conv` to time every shape of g,
/// the encoder and h. Off by default; one thread turns it on around a forward pass.
public enum ConvShapeRecorder {
    /// One convolution call: input [n, c, h, w], k output channels (a transposed convolution's
    /// c is its input side), kernel, geometry (symmetric strides, padding and dilation).
    public struct Shape: Hashable, Sendable {
        public var n, c, k, h, w, kh, kw, stride, pad, dilation, groups: Int
        public var transposed: Bool
        public var outputPadding: Int

        public init(n: Int, c: Int, k: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int, pad: Int,
                    dilation: Int, groups: Int, transposed: Bool = false, outputPadding: Int = 0) {
            self.n = n; self.c = c; self.k = k; self.h = h; self.w = w; self.kh = kh; self.kw = kw
            self.stride = stride; self.pad = pad; self.dilation = dilation; self.groups = groups
            self.transposed = transposed; self.outputPadding = outputPadding
        }
    }

    public static var isRecording = false
    /// In first-seen order, without repeats.
    public private(set) static var shapes: [Shape] = []
    /// How many calls each shape had.
    public private(set) static var counts: [Shape: Int] = [:]

    public static func start() { shapes = []; counts = [:]; isRecording = true }

    /// The distinct shapes recorded since `start`, with their call counts.
    public static func stop() -> [(shape: Shape, calls: Int)] {
        isRecording = false
        return shapes.map { ($0, counts[$0]!) }
    }

    static func record(_ x: [Int], _ w: [Int], _ g: Conv2DGeometry) {
        guard g.strideH == g.strideW, g.padH == g.padW, g.dilationH == g.dilationW else { return }
        add(Shape(n: x[0], c: x[1], k: w[0], h: x[2], w: x[3], kh: w[2], kw: w[3], stride: g.strideH,
                  pad: g.padH, dilation: g.dilationH, groups: g.groups))
    }

    static func record(_ x: [Int], _ w: [Int], _ g: ConvTranspose2DGeometry) {
        add(Shape(n: x[0], c: x[1], k: w[1] * g.groups, h: x[2], w: x[3], kh: w[2], kw: w[3], stride: g.stride,
                  pad: g.padding, dilation: g.dilation, groups: g.groups, transposed: true,
                  outputPadding: g.outputPadding))
    }

    private static func add(_ s: Shape) {
        if counts[s] == nil { shapes.append(s) }
        counts[s, default: 0] += 1
    }
}
