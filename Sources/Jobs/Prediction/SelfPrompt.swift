import Datasets
import Foundation
import Network
import Training

/// Self-prompting: g's own mask becomes SAM's box prompt. LiteMedSAM was trained with boxes and
/// segments far better from one than from g's dense prompt alone, so:
///
/// 1. g's pass: SAM's mask decoder with g(I) as the dense prompt and no sparse prompt (Mz), and
///    SAM's predicted IoU for it;
/// 2. g's mask in the 256² low-res frame (logit > 0; per-image min-max > 0.5 for a g trained
///    with the authors' min-max loss), cropped to where the image lies in SAM's input;
/// 3. its largest connected component (8-connectivity), that component's bounding box padded by
///    `padding` pixels on every side and clamped to the image;
/// 4. the box pass: the decoder again, with the box through SAM's prompt encoder as the sparse
///    prompt and, as the dense prompt, SAM's no-mask embedding (`dense: .noMask`) or g(I) (`.g`);
/// 5. the box pass's mask is used unless SAM predicts a lower IoU for it than for g's pass;
///    an empty g mask has no box and stays as it is.
public struct SelfPrompt: Sendable {
    public var dense: SelfPromptDense
    /// Pixels added on every side of the box, in the 256² low-res frame.
    public var padding: Int

    public init(dense: SelfPromptDense = .noMask, padding: Int = 4) {
        self.dense = dense
        self.padding = padding
    }

    /// The enabled self-prompting of an `inference:` section, or nil when it is off.
    public init?(_ config: InferenceConfig) {
        guard config.selfPrompt else { return nil }
        self.init(dense: config.selfPromptDense, padding: config.selfPromptPadding)
    }

    /// What self-prompting did for one image. Logits are low-res [1, 1, 256, 256].
    public struct Outcome {
        public var generatorLogits: Tensor
        /// SAM's predicted IoU for g's pass.
        public var generatorIoU: Float
        /// The box prompt in the low-res frame (pixel indices), nil when g's mask is empty.
        public var box: PixelBox?
        public var boxLogits: Tensor?
        /// SAM's predicted IoU for the box pass (nil without one).
        public var boxIoU: Float?
        /// Whether the final mask is the box pass's (else g's).
        public var usedBox: Bool

        /// The final mask's logits.
        public var logits: Tensor { usedBox ? boxLogits! : generatorLogits }

        /// The final mask's probabilities in the low-res frame: the box pass is SAM prompted as
        /// SAM was trained (sigmoid); g's pass goes through g's own activation.
        public func probabilities(activation: LossActivation) -> [Float] {
            usedBox ? Evaluator.probabilities(boxLogits!.data[...], activation: .sigmoid)
                : Evaluator.probabilities(generatorLogits.data[...], activation: activation)
        }
    }

    /// The rule: the box pass is used unless SAM predicts a lower IoU for it than for g's pass.
    public static func usesBox(generatorIoU: Float, boxIoU: Float) -> Bool { !(boxIoU < generatorIoU) }

    /// g's mask in the low-res frame (grid × grid logits), as g's activation thresholds it at 0.5.
    public static func generatorMask(_ logits: ArraySlice<Float>, activation: LossActivation) -> [UInt8] {
        switch activation {
        case .sigmoid: return logits.map { $0 > 0 ? 1 : 0 }
        case .minMax: return Evaluator.probabilities(logits, activation: .minMax).map { $0 > 0.5 ? 1 : 0 }
        }
    }

    /// The box prompt for a grid × grid low-res mask of an image occupying `extent` of SAM's input:
    /// the padded bounding box of the largest 8-connected component inside the image's part of
    /// the grid (clamped to it), or nil when that part holds no foreground.
    public static func promptBox(mask: [UInt8], grid: Int, extent: ResizedExtent, padding: Int) -> PixelBox? {
        let (w, h) = croppedSize(grid: grid, extent: extent)
        var crop = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { crop[y * w + x] = mask[y * grid + x] } }
        return promptBox(mask: crop, width: w, height: h, padding: padding)
    }

    /// The same for a width × height mask that is the image.
    public static func promptBox(mask: [UInt8], width: Int, height: Int, padding: Int) -> PixelBox? {
        ConnectedComponents.largest(mask, width: width, height: height)?.box.padded(by: padding, width: width, height: height)
    }

    /// The image's part of the low-res grid (Preprocessing.toOriginal's crop).
    static func croppedSize(grid: Int, extent: ResizedExtent) -> (width: Int, height: Int) {
        (max(1, Int((Double(extent.width) * Double(grid) / Double(extent.side)).rounded())),
         max(1, Int((Double(extent.height) * Double(grid) / Double(extent.side)).rounded())))
    }

    /// Self-prompting on a batch: `images` g's input [b, 3, s, s], `embeddings` SAM's image
    /// embeddings [b, 256, e, e], `extents` where each image lies in SAM's input. g's pass runs
    /// on the whole batch with the calls `AutoSAM.predict` makes (so its logits are the same);
    /// each box pass runs alone.
    public func run(model: AutoSAM, images: Tensor, embeddings: Tensor, extents: [ResizedExtent]) throws -> [Outcome] {
        let sam = model.sam
        let b = embeddings.shape[0]
        precondition(extents.count == b, "SelfPrompt: \(extents.count) extents for \(b) images")
        let z = try model.generator.infer(images, embedding: model.generator.readsEmbedding ? embeddings : nil)
        let empty = Tensor(zeros: [1, 0, sam.maskDecoder.dim])
        let gPass = try sam.maskDecoder.forward(imageEmbedding: embeddings, imagePE: sam.densePE, sparse: empty, dense: z,
                                                multimaskOutput: false).0
        let grid = gPass.masks.shape[2], per = grid * grid
        return try (0..<b).map { i in
            let logits = Tensor(shape: [1, 1, grid, grid], data: Array(gPass.masks.data[(i * per)..<((i + 1) * per)]))
            return try boxPass(model: model, generatorLogits: logits, generatorIoU: gPass.iou.data[i], z: z.sample(i),
                               embedding: embeddings.sample(i), extent: extents[i])
        }
    }

    /// Steps 2–5 for one image, given g's pass: its low-res logits [1, 1, 256, 256] and SAM's
    /// predicted IoU for them, g's embedding z [1, 256, e, e] and the image embedding [1, 256, e, e].
    public func boxPass(model: AutoSAM, generatorLogits: Tensor, generatorIoU: Float, z: Tensor, embedding: Tensor,
                        extent: ResizedExtent) throws -> Outcome {
        let sam = model.sam
        var out = Outcome(generatorLogits: generatorLogits, generatorIoU: generatorIoU, box: nil, boxLogits: nil, boxIoU: nil, usedBox: false)
        let grid = generatorLogits.shape[3]
        let mask = Self.generatorMask(generatorLogits.data[...], activation: model.lossActivation)
        guard let box = Self.promptBox(mask: mask, grid: grid, extent: extent, padding: padding) else { return out }
        // Low-res pixel indices → SAM's input frame (the same for LiteMedSAM, ×4 for SAM ViT).
        let s = Float(sam.imageSize) / Float(grid)
        let boxes = Tensor(shape: [1, 4], data: [Float(box.x0) * s, Float(box.y0) * s, Float(box.x1) * s, Float(box.y1) * s])
        let (sparse, noMask) = try sam.promptEncoder(boxes: boxes)
        let pass = try sam.maskDecoder.forward(imageEmbedding: embedding, imagePE: sam.densePE, sparse: sparse,
                                               dense: dense == .g ? z : noMask, multimaskOutput: false).0
        out.box = box
        out.boxLogits = pass.masks
        out.boxIoU = pass.iou.data[0]
        out.usedBox = Self.usesBox(generatorIoU: generatorIoU, boxIoU: pass.iou.data[0])
        return out
    }

    /// One line describing the settings, for notes and logs.
    public var summary: String {
        "g's mask → largest 8-connected component → its box padded by \(padding) px (256² frame) → SAM with that box and "
            + (dense == .g ? "g's dense embedding" : "SAM's no-mask dense embedding")
            + "; g's mask kept where SAM predicts a lower IoU for the box pass, or where g's mask is empty"
    }
}
