import Datasets
import Foundation
import Network

/// Turns dataset samples into model inputs: decode, augment (image and mask alike),
/// preprocess as the SAM model expects, and fetch the frozen encoder's embedding from the
/// cache (computing it on a miss).
public final class SamplePipeline {
    public let sam: SAM
    public let cache: EmbeddingCache
    public let encoderID: String
    /// Side of g's input (`AutoSAM.generatorSide`; SAM's own input, at most 512, by default).
    public let generatorSide: Int

    public struct Prepared {
        public var image: [Float]          // [3, S, S] SAM-preprocessed
        public var embedding: Tensor       // [256, 64, 64]
        public var target: [Float]         // [256, 256] in {0, 1}, the low-res logits' frame
        public var mask: Mask              // ground truth at the original resolution
        public var extent: ResizedExtent
        public var name: String
    }

    public init(sam: SAM, cache: EmbeddingCache, encoderID: String, generatorSide: Int? = nil) {
        self.sam = sam
        self.cache = cache
        self.encoderID = encoderID
        self.generatorSide = generatorSide ?? AutoSAM.defaultGeneratorSide(sam.imageSize)
    }

    /// A stable identity for the encoder weights: kind plus a hash of the checkpoint's bytes.
    public static func encoderID(kind: SAMKind, checkpoint: String) throws -> String {
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: checkpoint), options: .alwaysMapped) else {
            throw FileError(path: checkpoint, problem: "cannot read the SAM checkpoint")
        }
        var h = ContentHash()
        d.withUnsafeBytes { h.update($0) }
        return "\(kind.rawValue)-\(h.hex)"
    }

    static func describe(_ p: AugmentationParams) -> String {
        p.isIdentity ? "identity"
            : "a=\(String(p.angle.bitPattern, radix: 16));s=\(String(p.scale.bitPattern, radix: 16));h=\(p.flipH ? 1 : 0);v=\(p.flipV ? 1 : 0)"
    }

    public func prepare(_ sample: DatasetSample, augmentation: AugmentationParams) throws -> Prepared {
        let bytes = try readBytes(sample.imagePath)
        var image = try ImageDecoder.read(sample.imagePath, channels: 3)
        var mask = try MaskLoader.binary(sample.maskPath, rule: sample.maskRule, imageWidth: image.width, imageHeight: image.height)
        let original = mask
        if !augmentation.isIdentity {
            image = Augmentation.apply(augmentation, to: image)
            mask = Augmentation.apply(augmentation, to: mask)
        }
        let pre = preprocess(image)
        let emb = try cache.embedding(key(bytes, augmentation)) { try encode(pre.data) }
        let lowRes = sam.embeddingSize * 4
        let target = Preprocessing.mask(mask, side: lowRes).pixels.map { Float($0) }
        return Prepared(image: pre.data, embedding: emb, target: target, mask: original, extent: pre.extent, name: sample.name)
    }

    /// Encodes and stores the embedding of `sample` under `augmentation` unless the cache holds
    /// it; true when it was computed. Reads only the image (filling the cache before training).
    public func fill(_ sample: DatasetSample, augmentation: AugmentationParams) throws -> Bool {
        let bytes = try readBytes(sample.imagePath)
        let key = key(bytes, augmentation), e = sam.embeddingSize
        if cache.contains(key, count: sam.maskDecoder.dim * e * e) { return false }
        try cache.store(key, try encode(preprocess(try augmentedImage(sample, augmentation)).data))
        return true
    }

    /// Decodes the sample's image and mask, throwing what a training step would meet.
    public func check(_ sample: DatasetSample) throws {
        let image = try ImageDecoder.read(sample.imagePath, channels: 3)
        _ = try MaskLoader.binary(sample.maskPath, rule: sample.maskRule, imageWidth: image.width, imageHeight: image.height)
    }

    func key(_ bytes: [UInt8], _ augmentation: AugmentationParams) -> EmbeddingKey {
        EmbeddingKey(image: .of(bytes), augmentation: Self.describe(augmentation), encoder: encoderID)
    }

    func preprocess(_ image: Image) -> (data: [Float], extent: ResizedExtent) {
        let norm: InputNormalization = sam.kind == .liteMedSAM ? .minMax : .samPixelMeanStd
        let pre = Preprocessing.image(image, side: sam.imageSize, normalization: norm)
        return (pre.data, pre.extent)
    }

    func encode(_ input: [Float]) throws -> Tensor {
        let side = sam.imageSize
        let e = try sam.imageEncoder(Tensor(shape: [1, 3, side, side], data: input))
        return e.reshaped(Array(e.shape.dropFirst()))
    }

    /// Stacks prepared samples into g's input, the embeddings and the targets.
    public func batch(_ items: [Prepared]) -> (images: Tensor, embeddings: Tensor, targets: Tensor) {
        let b = items.count, e = sam.embeddingSize, lr = e * 4
        let images = generatorInput(items.map(\.image))
        let emb = Tensor(shape: [b, sam.maskDecoder.dim, e, e], data: items.flatMap(\.embedding.data))
        let tgt = Tensor(shape: [b, 1, lr, lr], data: items.flatMap(\.target))
        return (images, emb, tgt)
    }

    /// g's input for `samples` under `augmentations`: the images alone (no embedding, no mask).
    public func generatorImages(_ samples: [DatasetSample], augmentations: [AugmentationParams]) throws -> Tensor {
        precondition(samples.count == augmentations.count, "generatorImages: \(samples.count) samples, \(augmentations.count) augmentations")
        return try generatorInput(zip(samples, augmentations).map { try preprocess(try augmentedImage($0, $1)).data })
    }

    /// The sample's image decoded as RGB, under `augmentation`.
    func augmentedImage(_ sample: DatasetSample, _ augmentation: AugmentationParams) throws -> Image {
        let image = try ImageDecoder.read(sample.imagePath, channels: 3)
        return augmentation.isIdentity ? image : Augmentation.apply(augmentation, to: image)
    }

    /// SAM-preprocessed images [3, S, S] stacked and resized to g's side.
    func generatorInput(_ images: [[Float]]) -> Tensor {
        let s = sam.imageSize
        return AutoSAM.generatorInput(Tensor(shape: [images.count, 3, s, s], data: images.flatMap { $0 }), side: generatorSide)
    }

    func readBytes(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw ImageError(path: path, problem: "cannot read the file")
        }
        return [UInt8](d)
    }
}
