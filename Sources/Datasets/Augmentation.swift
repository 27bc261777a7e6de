import Foundation

/// One geometric augmentation: flips first, then rotation and scaling about the image centre; the
/// output keeps the input's size and areas brought in from outside are 0. Hashable and Codable so it
/// can key a cache of embeddings of augmented images.
public struct AugmentationParams: Hashable, Codable, Sendable {
    /// Degrees, counter-clockwise as displayed.
    public var angle: Float
    /// > 1 enlarges.
    public var scale: Float
    public var flipH: Bool
    public var flipV: Bool

    public init(angle: Float = 0, scale: Float = 1, flipH: Bool = false, flipV: Bool = false) {
        self.angle = angle
        self.scale = scale
        self.flipH = flipH
        self.flipV = flipV
    }

    public static let identity = AugmentationParams()
    public var isIdentity: Bool { self == .identity }
}

/// The ranges the AutoSAM authors' code draws from: rotation ±22°, scale 0.75–1.25, each flip with p = 0.5.
public struct AugmentationRanges: Hashable, Codable, Sendable {
    public var maxAngle: Float = 22
    public var minScale: Float = 0.75
    public var maxScale: Float = 1.25
    public var flipProbability: Double = 0.5
    public init() {}
    public static let paper = AugmentationRanges()
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator, local to Datasets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

public enum Augmentation {
    /// The parameters for (seed, epoch, sample index): a pure function, so any rank or thread gets the
    /// same augmentation for the same sample and epoch, whatever order samples are visited in.
    public static func params(seed: UInt64, epoch: Int, index: Int, ranges: AugmentationRanges = .paper) -> AugmentationParams {
        var mix = SplitMix64(seed: seed)
        mix.state ^= UInt64(truncatingIfNeeded: epoch) &* 0xD6E8_FEB8_6659_FD93
        _ = mix.next()
        mix.state ^= UInt64(truncatingIfNeeded: index) &* 0xA076_1D64_78BD_642F
        var rng = SplitMix64(seed: mix.next())
        let angle = Float((rng.unit() * 2 - 1) * Double(ranges.maxAngle))
        let scale = Float(Double(ranges.minScale) + rng.unit() * Double(ranges.maxScale - ranges.minScale))
        let flipH = rng.unit() < ranges.flipProbability
        let flipV = rng.unit() < ranges.flipProbability
        return AugmentationParams(angle: angle, scale: scale, flipH: flipH, flipV: flipV)
    }

    /// The image under `p`, bilinear (pixels outside the source count as 0).
    public static func apply(_ p: AugmentationParams, to image: Image) -> Image {
        if p.isIdentity { return image }
        let w = image.width, h = image.height, c = image.channels
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        let map = inverseMap(p, width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                let (sx, sy) = map(x, y)
                // Bilinear on pixel indices (centres at integer + 0.5).
                let fx = sx - 0.5, fy = sy - 0.5
                let x0 = Int(fx.rounded(.down)), y0 = Int(fy.rounded(.down))
                let ax = fx - Double(x0), ay = fy - Double(y0)
                for k in 0..<c {
                    var v = 0.0
                    for (dy, wy) in [(0, 1 - ay), (1, ay)] where wy > 0 {
                        let yy = y0 + dy
                        guard yy >= 0 && yy < h else { continue }
                        for (dx, wx) in [(0, 1 - ax), (1, ax)] where wx > 0 {
                            let xx = x0 + dx
                            guard xx >= 0 && xx < w else { continue }
                            v += wx * wy * Double(image.pixels[(yy * w + xx) * c + k])
                        }
                    }
                    out[(y * w + x) * c + k] = UInt8(min(255, max(0, v.rounded())))
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }

    /// The mask under `p`, nearest neighbour (outside the source is background).
    public static func apply(_ p: AugmentationParams, to mask: Mask) -> Mask {
        if p.isIdentity { return mask }
        let w = mask.width, h = mask.height
        var out = [UInt8](repeating: 0, count: mask.pixels.count)
        let map = inverseMap(p, width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                let (sx, sy) = map(x, y)
                let xx = Int(sx.rounded(.down)), yy = Int(sy.rounded(.down))
                if xx >= 0 && xx < w && yy >= 0 && yy < h { out[y * w + x] = mask.pixels[yy * w + xx] }
            }
        }
        return Mask(width: w, height: h, pixels: out)
    }

    /// For output pixel (x, y), the source point (continuous coordinates, pixel i spans [i, i+1)).
    static func inverseMap(_ p: AugmentationParams, width: Int, height: Int) -> (Int, Int) -> (Double, Double) {
        let cx = Double(width) / 2, cy = Double(height) / 2
        let t = Double(p.angle) * .pi / 180
        let cs = cos(t), sn = sin(t), s = Double(p.scale)
        let fh: Double = p.flipH ? -1 : 1, fv: Double = p.flipV ? -1 : 1
        return { x, y in
            let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
            // Forward (y down, counter-clockwise as displayed): d' = s · [[c, s], [−s, c]] · F · d.
            // Inverse: F · Rᵀ · d' / s.
            let rx = (cs * dx - sn * dy) / s, ry = (sn * dx + cs * dy) / s
            return (cx + fh * rx, cy + fv * ry)
        }
    }
}
