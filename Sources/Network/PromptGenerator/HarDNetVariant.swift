/// A HarDNet architecture, as the authors' hardnet.py defines it, up to the stride-16 stage
/// (the stride-32 stage is computed by AutoSAM's code but never used by its decoder).
public struct HarDNetVariant: Equatable, Sendable {
    public struct Block: Equatable, Sendable {
        public var growth: Int
        public var layers: Int
        /// Width of the 1×1 ConvLayer after the block.
        public var transition: Int
        /// Whether a downsampling (max pool 2×2, or a stride-2 DWConvLayer for DS) follows.
        public var downsample: Bool
        public init(growth: Int, layers: Int, transition: Int, downsample: Bool) {
            (self.growth, self.layers, self.transition, self.downsample) = (growth, layers, transition, downsample)
        }
    }

    public var name: String
    /// Widths of the stem's two ConvLayers (3×3 stride 2, then 3×3 or 1×1 for DS).
    public var firstChannels: (Int, Int)
    public var grmul: Double
    /// Depthwise-separable (DS): CombConvLayers in blocks, DWConv downsampling, 1×1 second stem conv.
    public var depthwise: Bool
    /// The blocks of the full network; only those up to the fourth downsampling are built.
    public var blocks: [Block]

    public init(name: String, firstChannels: (Int, Int), grmul: Double, depthwise: Bool, blocks: [Block]) {
        self.name = name
        self.firstChannels = firstChannels
        self.grmul = grmul
        self.depthwise = depthwise
        self.blocks = blocks
    }

    public static func == (a: HarDNetVariant, b: HarDNetVariant) -> Bool {
        a.name == b.name && a.firstChannels == b.firstChannels && a.grmul == b.grmul
            && a.depthwise == b.depthwise && a.blocks == b.blocks
    }

    private static func blocks(_ gr: [Int], _ n: [Int], _ ch: [Int], _ down: [Int]) -> [Block] {
        (0..<gr.count).map { Block(growth: gr[$0], layers: n[$0], transition: ch[$0], downsample: down[$0] == 1) }
    }

    /// The paper's default: stage widths 96, 192, 320, 720 at strides 2, 4, 8, 16.
    public static let hardnet85 = HarDNetVariant(
        name: "hardnet85", firstChannels: (48, 96), grmul: 1.7, depthwise: false,
        blocks: blocks([24, 24, 28, 36, 48, 256], [8, 16, 16, 16, 16, 4],
                       [192, 256, 320, 480, 720, 1280], [1, 0, 1, 0, 1, 0]))
    /// Stage widths 64, 128, 320, 640.
    public static let hardnet68 = HarDNetVariant(
        name: "hardnet68", firstChannels: (32, 64), grmul: 1.7, depthwise: false,
        blocks: blocks([14, 16, 20, 40, 160], [8, 16, 16, 16, 4], [128, 256, 320, 640, 1024], [1, 0, 1, 1, 0]))
    /// Depthwise-separable HarDNet-39: stage widths 48, 96, 320, 640.
    public static let hardnet39DS = HarDNetVariant(
        name: "hardnet39ds", firstChannels: (24, 48), grmul: 1.6, depthwise: true,
        blocks: blocks([16, 20, 64, 160], [4, 16, 8, 4], [96, 320, 640, 1024], [1, 1, 1, 0]))

    public static func named(_ name: String) -> HarDNetVariant? {
        switch name.lowercased() {
        case "hardnet85", "85": return hardnet85
        case "hardnet68", "68": return hardnet68
        case "hardnet39ds", "39ds", "hardnet39": return hardnet39DS
        default: return nil
        }
    }
}
