import Foundation

/// A small synthetic segmentation dataset in the PraNet layout, so the main job runs
/// anywhere: textured backgrounds with smooth blob-shaped "lesions" of varied size, colour
/// and position; masks 0/255. Fully determined by the seed.
public struct DemoDataGenerator {
    public var size: Int
    public var seed: UInt64

    public init(size: Int = 256, seed: UInt64 = 0) {
        self.size = size
        self.seed = seed
    }

    /// Writes `train` pairs to root/TrainDataset and `test` pairs to root/TestDataset/Demo.
    public func write(to root: String, train: Int, test: Int) throws -> (train: Int, test: Int) {
        let fm = FileManager.default
        for (dir, count, offset) in [("TrainDataset", train, 0), ("TestDataset/Demo", test, 1_000_000)] {
            let base = (root as NSString).appendingPathComponent(dir)
            for sub in ["images", "masks"] {
                try fm.createDirectory(atPath: (base as NSString).appendingPathComponent(sub), withIntermediateDirectories: true)
            }
            for i in 0..<count {
                let (img, mask) = sample(index: UInt64(offset + i))
                let name = String(format: "demo_%04d.png", i)
                try PNGCodec.write(img, to: "\(base)/images/\(name)")
                try PNGCodec.write(mask, to: "\(base)/masks/\(name)")
            }
        }
        return (train, test)
    }

    /// One (RGB image, 0/255 mask) pair.
    public func sample(index: UInt64) -> (Image, Image) {
        var rng = DemoRNG(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ index)
        let s = size
        // Background: a warm tissue-like colour with low-frequency shading and fine texture.
        let base = (r: 150 + 60 * rng.unit(), g: 70 + 50 * rng.unit(), b: 60 + 40 * rng.unit())
        let f1 = 2 + 4 * rng.unit(), f2 = 2 + 4 * rng.unit(), ph = 6.28 * rng.unit()
        // Lesion: a star-shaped blob r(θ) = R(1 + Σ a_k cos(kθ + φ_k)).
        let cx = Double(s) * (0.25 + 0.5 * rng.unit()), cy = Double(s) * (0.25 + 0.5 * rng.unit())
        let radius = Double(s) * (0.08 + 0.17 * rng.unit())
        let harmonics = (1...3).map { _ in (a: 0.18 * rng.unit(), phi: 6.28 * rng.unit()) }
        let tint = (r: 0.6 + 0.5 * rng.unit(), g: 0.6 + 0.6 * rng.unit(), b: 0.5 + 0.6 * rng.unit())
        var px = [UInt8](repeating: 0, count: s * s * 3)
        var mk = [UInt8](repeating: 0, count: s * s)
        for y in 0..<s {
            for x in 0..<s {
                let u = Double(x) / Double(s), v = Double(y) / Double(s)
                let shade = 0.8 + 0.2 * sin(f1 * u * 6.28 + ph) * cos(f2 * v * 6.28)
                let tex = 10 * (rng.unit() - 0.5)
                var (r, g, b) = (base.r * shade + tex, base.g * shade + tex, base.b * shade + tex)
                let dx = Double(x) - cx, dy = Double(y) - cy
                let theta = atan2(dy, dx)
                var rr = radius
                for (k, h) in harmonics.enumerated() { rr *= 1 + h.a * cos(Double(k + 2) * theta + h.phi) }
                let d = (dx * dx + dy * dy).squareRoot()
                if d <= rr {
                    mk[y * s + x] = 255
                    // Smooth dome shading inside the lesion.
                    let dome = 0.85 + 0.3 * (1 - d / rr)
                    (r, g, b) = (r * tint.r * dome, g * tint.g * dome, b * tint.b * dome)
                } else if d <= rr + 2 {
                    (r, g, b) = (r * 0.8, g * 0.8, b * 0.8)   // a faint rim, as at a real lesion border
                }
                px[(y * s + x) * 3] = UInt8(max(0, min(255, r)))
                px[(y * s + x) * 3 + 1] = UInt8(max(0, min(255, g)))
                px[(y * s + x) * 3 + 2] = UInt8(max(0, min(255, b)))
            }
        }
        return (Image(width: s, height: s, channels: 3, pixels: px), Image(width: s, height: s, channels: 1, pixels: mk))
    }
}

/// SplitMix64, local to the data module (which knows no models).
struct DemoRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
}
