import Datasets
import Foundation
import Network
import Training

/// AutoSAM (no prompt) on images without masks: the trained g writes SAM's dense prompt.
/// Same steps as the Evaluator: SAM preprocessing, g's input resized to its side, low-res
/// logits → probabilities (sigmoid, or per-image min-max when the model was trained with the
/// authors' min-max loss) → crop and resize to the original size → threshold 0.5.
public struct AutoSAMPredictor {
    public let model: AutoSAM
    public let sam: SAMPredictor
    /// When set, g's mask is turned into a box prompt for SAM (SelfPrompt) and `mask` is the result.
    public var selfPrompt: SelfPrompt?

    public init(model: AutoSAM, selfPrompt: SelfPrompt? = nil) {
        self.model = model
        self.selfPrompt = selfPrompt
        sam = SAMPredictor(sam: model.sam)
    }

    public struct Prediction {
        public var mask: Mask                 // 0/1 at the original size: self-prompted when that is on, else Mz
        public var probabilities: [Float]     // at the original size, of `mask`
        public var lowResLogits: Tensor       // [1, 1, 256, 256], g's pass (Mz) in the model-input frame
        public var generatorMask: Mask        // Mz, g's own mask, at the original size
        public var selfPrompt: SelfPrompt.Outcome?
        public var encoded: SAMPredictor.Encoded
    }

    /// g's input for one preprocessed image: [1, 3, s, s], resized as the SamplePipeline does.
    func generatorInput(_ e: SAMPredictor.Encoded) -> Tensor {
        let s = model.sam.imageSize
        return model.generatorInput(Tensor(shape: [1, 3, s, s], data: e.input.data))
    }

    public func predict(_ image: Image) throws -> Prediction {
        let e = try sam.encode(image)
        func toMask(_ lowResProbabilities: [Float], grid: Int) -> (Mask, [Float]) {
            let full = Preprocessing.toOriginal(lowResProbabilities, grid: grid, extent: e.extent)
            return (Mask(width: image.width, height: image.height, pixels: Metrics.binarize(full)), full)
        }
        guard let selfPrompt else {
            let logits = try model.predict(images: generatorInput(e), embeddings: e.embedding)
            let (mask, full) = toMask(Evaluator.probabilities(logits.data[...], activation: model.lossActivation), grid: logits.shape[2])
            return Prediction(mask: mask, probabilities: full, lowResLogits: logits, generatorMask: mask, selfPrompt: nil, encoded: e)
        }
        let outcome = try selfPrompt.run(model: model, images: generatorInput(e), embeddings: e.embedding, extents: [e.extent])[0]
        let grid = outcome.generatorLogits.shape[2]
        let (gMask, gFull) = toMask(Evaluator.probabilities(outcome.generatorLogits.data[...], activation: model.lossActivation), grid: grid)
        let (mask, full) = outcome.usedBox ? toMask(outcome.probabilities(activation: model.lossActivation), grid: grid) : (gMask, gFull)
        return Prediction(mask: mask, probabilities: full, lowResLogits: outcome.generatorLogits, generatorMask: gMask,
                          selfPrompt: outcome, encoded: e)
    }
}

/// Image files to predict on: each argument is a file, or a folder whose image files (by
/// their magic bytes, sorted by name) are taken; anything else is an error naming it.
public enum ImageInputs {
    public static func expand(_ paths: [String]) throws -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDir) else { throw InferenceError("\(p): no such file or folder") }
            if isDir.boolValue {
                let names = try fm.contentsOfDirectory(atPath: p).filter { !$0.hasPrefix(".") }.sorted()
                let images = names.map { (p as NSString).appendingPathComponent($0) }.filter { (try? ImageDecoder.format(of: $0)) != nil }
                guard !images.isEmpty else { throw InferenceError("\(p): folder holds no readable image files") }
                out += images
            } else {
                out.append(p)
            }
        }
        return out
    }

    /// The output file for an input image: its base name with .png, inside `dir`.
    public static func outputName(for path: String, in dir: String) -> String {
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return (dir as NSString).appendingPathComponent(base + ".png")
    }
}

extension Mask {
    /// The mask as a 0/255 gray image (for PNG output).
    public var image255: Image { Image(width: width, height: height, channels: 1, pixels: pixels.map { $0 != 0 ? 255 : 0 }) }
}
