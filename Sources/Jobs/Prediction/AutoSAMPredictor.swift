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

    public init(model: AutoSAM) {
        self.model = model
        sam = SAMPredictor(sam: model.sam)
    }

    public struct Prediction {
        public var mask: Mask                 // 0/1 at the original size
        public var probabilities: [Float]     // at the original size
        public var lowResLogits: Tensor       // [1, 1, 256, 256], the model-input frame
        public var encoded: SAMPredictor.Encoded
    }

    /// g's input for one preprocessed image: [1, 3, s, s], resized as the SamplePipeline does.
    func generatorInput(_ e: SAMPredictor.Encoded) -> Tensor {
        let s = model.sam.imageSize
        return model.generatorInput(Tensor(shape: [1, 3, s, s], data: e.input.data))
    }

    public func predict(_ image: Image) throws -> Prediction {
        let e = try sam.encode(image)
        let logits = try model.predict(images: generatorInput(e), embeddings: e.embedding)
        let grid = logits.shape[2]
        let prob = Evaluator.probabilities(logits.data[...], activation: model.lossActivation)
        let full = Preprocessing.toOriginal(prob, grid: grid, extent: e.extent)
        let mask = Mask(width: image.width, height: image.height, pixels: Metrics.binarize(full))
        return Prediction(mask: mask, probabilities: full, lowResLogits: logits, encoded: e)
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
