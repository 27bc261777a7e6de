/// Where a resized image sits inside the padded square model input, so predictions can be cropped
/// back to `width × height` and resized to the original size.
public struct ResizedExtent: Hashable, Codable, Sendable {
    public var originalWidth: Int
    public var originalHeight: Int
    /// The resized image occupies rows 0..<height and columns 0..<width of the side × side input.
    public var width: Int
    public var height: Int
    public var side: Int

    /// SAM's `get_preprocess_shape`: scale = side / max(H, W), each side rounded with int(x + 0.5).
    public init(originalWidth: Int, originalHeight: Int, side: Int) {
        precondition(originalWidth > 0 && originalHeight > 0 && side > 0)
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
        self.side = side
        let scale = Double(side) / Double(max(originalWidth, originalHeight))
        width = min(side, Int(Double(originalWidth) * scale + 0.5))
        height = min(side, Int(Double(originalHeight) * scale + 0.5))
    }
}

/// Each model's input normalisation (MedSAM's min-max for LiteMedSAM, pixel mean/std for SAM ViT).
public enum InputNormalization: String, Sendable, Codable {
    /// LiteMedSAM / MedSAM: min-max of the resized image (all channels together) to [0, 1].
    case minMax
    /// SAM ViT-B/L/H: (x − mean) / std per channel on 0–255 values.
    case samPixelMeanStd

    public static let samMean: [Float] = [123.675, 116.28, 103.53]
    public static let samStd: [Float] = [58.395, 57.12, 57.375]
}

/// A model input: 3 × side × side floats (CHW), normalised, zero-padded bottom/right.
public struct PreprocessedImage: Sendable {
    public var data: [Float]
    public var extent: ResizedExtent
}

/// Longest-side resizing + padding, as SAM and MedSAM do it. No model code: plain [Float] arrays.
public enum Preprocessing {
    /// Resizes the longest side to `side` (antialiased bilinear, see Resampler), normalises, then pads
    /// bottom/right with zeros (after normalisation, as SAM's `preprocess` and MedSAM's pipeline do).
    public static func image(_ image: Image, side: Int, normalization: InputNormalization) -> PreprocessedImage {
        let rgb = image.channels == 3 ? image : expandGray(image)
        let extent = ResizedExtent(originalWidth: rgb.width, originalHeight: rgb.height, side: side)
        let resized = Resampler.resize(planes(rgb), channels: 3, width: rgb.width, height: rgb.height,
                                       toWidth: extent.width, toHeight: extent.height)
        let plane = extent.width * extent.height
        var normalized = resized
        switch normalization {
        case .minMax:
            let lo = resized.min() ?? 0, hi = resized.max() ?? 0
            let range = max(hi - lo, 1e-8)
            for i in normalized.indices { normalized[i] = (resized[i] - lo) / range }
        case .samPixelMeanStd:
            for c in 0..<3 {
                let m = InputNormalization.samMean[c], s = InputNormalization.samStd[c]
                for i in c * plane..<(c + 1) * plane { normalized[i] = (resized[i] - m) / s }
            }
        }
        var out = [Float](repeating: 0, count: 3 * side * side)
        for c in 0..<3 {
            for y in 0..<extent.height {
                for x in 0..<extent.width {
                    out[(c * side + y) * side + x] = normalized[(c * extent.height + y) * extent.width + x]
                }
            }
        }
        return PreprocessedImage(data: out, extent: extent)
    }

    /// The mask in the same frame: nearest-neighbour to the resized extent, zero-padded to side × side.
    public static func mask(_ mask: Mask, side: Int) -> (pixels: [UInt8], extent: ResizedExtent) {
        let extent = ResizedExtent(originalWidth: mask.width, originalHeight: mask.height, side: side)
        let small = resizeNearest(mask, width: extent.width, height: extent.height)
        var out = [UInt8](repeating: 0, count: side * side)
        for y in 0..<extent.height {
            for x in 0..<extent.width { out[y * side + x] = small.pixels[y * extent.width + x] }
        }
        return (out, extent)
    }

    /// Nearest neighbour with pixel-centre sampling (PIL NEAREST): source index floor((i + 0.5) · in / out).
    public static func resizeNearest(_ mask: Mask, width: Int, height: Int) -> Mask {
        let xs = (0..<width).map { min(mask.width - 1, Int((Double($0) + 0.5) * Double(mask.width) / Double(width))) }
        let ys = (0..<height).map { min(mask.height - 1, Int((Double($0) + 0.5) * Double(mask.height) / Double(height))) }
        var px = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width { px[y * width + x] = mask.pixels[ys[y] * mask.width + xs[x]] }
        }
        return Mask(width: width, height: height, pixels: px)
    }

    /// Maps a square prediction (`grid × grid` floats, e.g. 256² low-res logits or probabilities covering
    /// the side × side input) back to the original image: crop the resized extent, then bilinear to H × W.
    public static func toOriginal(_ pred: [Float], grid: Int, extent: ResizedExtent) -> [Float] {
        precondition(pred.count == grid * grid)
        let cw = max(1, Int((Double(extent.width) * Double(grid) / Double(extent.side)).rounded()))
        let ch = max(1, Int((Double(extent.height) * Double(grid) / Double(extent.side)).rounded()))
        var crop = [Float](repeating: 0, count: cw * ch)
        for y in 0..<ch { for x in 0..<cw { crop[y * cw + x] = pred[y * grid + x] } }
        return Resampler.resize(crop, channels: 1, width: cw, height: ch,
                                toWidth: extent.originalWidth, toHeight: extent.originalHeight)
    }

    /// HWC bytes → CHW floats (0–255).
    static func planes(_ image: Image) -> [Float] {
        let n = image.width * image.height, c = image.channels
        var out = [Float](repeating: 0, count: n * c)
        for i in 0..<n { for k in 0..<c { out[k * n + i] = Float(image.pixels[i * c + k]) } }
        return out
    }

    static func expandGray(_ image: Image) -> Image {
        Image(width: image.width, height: image.height, channels: 3, pixels: image.pixels.flatMap { [$0, $0, $0] })
    }
}
