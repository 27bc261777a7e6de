import Datasets
import Foundation
import Network

/// Runs a frozen SAM on one image with SAM's own prompts (box, mask), with each model's own
/// preprocessing and postprocessing:
/// - LiteMedSAM (MedSAM's convention): longest side 256 (antialiased), min-max to [0, 1], pad;
///   the box scaled by 256 / max(H, W); the 256² low-res logits cropped to the resized extent
///   and resized bilinearly (align_corners=False) to H × W; foreground where sigmoid > 0.5.
/// - SAM ViT-B/L/H: longest side 1024, pixel mean/std, pad; low-res logits upsampled to
///   1024², cropped to the resized extent, resized to H × W (SAM's `postprocess_masks`).
public struct SAMPredictor {
    public let sam: SAM

    public init(sam: SAM) { self.sam = sam }

    /// An image prepared for SAM: the model input, where the image sits in it, and its embedding.
    public struct Encoded {
        public var input: PreprocessedImage
        public var embedding: Tensor     // [1, 256, e, e]
        public var extent: ResizedExtent { input.extent }
    }

    public var normalization: InputNormalization { sam.kind == .liteMedSAM ? .minMax : .samPixelMeanStd }

    public func encode(_ image: Image) throws -> Encoded {
        let side = sam.imageSize
        let pre = Preprocessing.image(image, side: side, normalization: normalization)
        return Encoded(input: pre, embedding: try sam.imageEncoder(Tensor(shape: [1, 3, side, side], data: pre.data)))
    }

    /// Low-res logits [1, 1, 256, 256] for a box (original pixel coordinates) and/or a mask prompt
    /// (low-res logits [1, 1, 256, 256] in the model-input frame). No prompt at all gives SAM's
    /// "nothing" prompt (not-a-point token is not added; sparse is empty, dense is no-mask).
    public func lowResLogits(_ e: Encoded, box: BoxPrompt? = nil, maskPrompt: Tensor? = nil) throws -> Tensor {
        try lowResLogits(embedding: e.embedding, extent: e.extent, box: box, maskPrompt: maskPrompt)
    }

    /// The same from an embedding [1, 256, e, e] (a cached one, say) and its image's extent.
    public func lowResLogits(embedding: Tensor, extent: ResizedExtent, box: BoxPrompt? = nil, maskPrompt: Tensor? = nil) throws -> Tensor {
        let boxes = box.map { b -> Tensor in
            let s = Float(sam.imageSize) / Float(max(extent.originalWidth, extent.originalHeight))
            return Tensor(shape: [1, 4], data: [Float(b.x0) * s, Float(b.y0) * s, Float(b.x1) * s, Float(b.y1) * s])
        }
        let (sparse, dense) = try sam.promptEncoder(boxes: boxes, masks: maskPrompt)
        return try sam.maskDecoder.forward(imageEmbedding: embedding, imagePE: sam.densePE, sparse: sparse, dense: dense,
                                           multimaskOutput: false).0.masks
    }

    /// Low-res logits (one [256, 256] plane) → logits at the original resolution.
    public func originalLogits(_ lowRes: Tensor, extent: ResizedExtent) -> [Float] {
        Self.originalLogits(lowRes, extent: extent, kind: sam.kind)
    }

    public static func originalLogits(_ lowRes: Tensor, extent: ResizedExtent, kind: SAMKind) -> [Float] {
        let grid = lowRes.shape[lowRes.rank - 1]
        var x = lowRes.reshaped([1, 1, grid, grid])
        var frame = grid
        if kind != .liteMedSAM {
            // SAM: upsample to the model input first, then crop in that frame.
            x = BilinearResize.forward(x, height: extent.side, width: extent.side, alignCorners: false)
            frame = extent.side
        }
        let scale = Double(frame) / Double(extent.side)
        let cw = max(1, Int((Double(extent.width) * scale).rounded())), ch = max(1, Int((Double(extent.height) * scale).rounded()))
        var crop = Tensor(zeros: [1, 1, ch, cw])
        for y in 0..<ch { for c in 0..<cw { crop.data[y * cw + c] = x.data[y * frame + c] } }
        return BilinearResize.forward(crop, height: extent.originalHeight, width: extent.originalWidth, alignCorners: false).data
    }

    /// The binary mask (0/1) of logits: sigmoid > 0.5, i.e. logit > 0.
    public static func threshold(_ logits: [Float], width: Int, height: Int) -> Mask {
        Mask(width: width, height: height, pixels: logits.map { $0 > 0 ? 1 : 0 })
    }

    /// SAM with a box prompt: the mask at the image's original size.
    public func segment(_ image: Image, box: BoxPrompt) throws -> Mask {
        try box.check(width: image.width, height: image.height)
        let e = try encode(image)
        let logits = originalLogits(try lowResLogits(e, box: box), extent: e.extent)
        return Self.threshold(logits, width: image.width, height: image.height)
    }
}
