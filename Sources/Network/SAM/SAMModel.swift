/// Which Segment-Anything model, with its input size and preprocessing.
public enum SAMKind: String, CaseIterable, Sendable, Codable {
    case liteMedSAM = "lite_medsam"
    case vitB = "vit_b", vitL = "vit_l", vitH = "vit_h"

    /// Side of the square model input.
    public var imageSize: Int { self == .liteMedSAM ? 256 : 1024 }
}

/// The frozen image encoder, whichever architecture the checkpoint holds.
public enum ImageEncoder {
    case tinyViT(TinyViT)
    case vit(ImageEncoderViT)

    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        switch self {
        case .tinyViT(let e): return try e(images)
        case .vit(let e): return try e(images)
        }
    }
}

/// A frozen SAM: image encoder, prompt encoder and mask decoder, built by one builder per
/// model size and loaded by state-dict name; every convolution runs on `context.convolution`.
public struct SAM {
    public let kind: SAMKind
    public let context: ExecutionContext
    public let imageEncoder: ImageEncoder
    public let promptEncoder: PromptEncoder
    public let maskDecoder: MaskDecoder
    /// The dense positional encoding, computed once.
    public let densePE: Tensor

    public var imageSize: Int { kind.imageSize }
    public var embeddingSize: Int { imageSize / (kind == .liteMedSAM ? 4 : 16) }

    public init(kind: SAMKind, imageEncoder: ImageEncoder, promptEncoder: PromptEncoder, maskDecoder: MaskDecoder,
                context: ExecutionContext) {
        self.kind = kind
        self.context = context
        self.imageEncoder = imageEncoder
        self.promptEncoder = promptEncoder
        self.maskDecoder = maskDecoder
        densePE = promptEncoder.densePositionalEncoding()
    }

    /// Builds `kind` from a state dict (every tensor used, every parameter filled).
    public static func build(_ kind: SAMKind, from source: TensorSource, origin: String,
                             context: ExecutionContext) throws -> SAM {
        let bag = WeightBag(source, origin: origin)
        let encoder: ImageEncoder
        switch kind {
        case .liteMedSAM:
            encoder = .tinyViT(TinyViT(bag, context: context))
        case .vitB, .vitL, .vitH:
            encoder = .vit(ImageEncoderViT(bag, config: ViTConfig.forKind(kind)!, context: context))
        }
        let e = kind.imageSize / (kind == .liteMedSAM ? 4 : 16)
        let pe = PromptEncoder(bag, embeddingSize: (e, e), inputSize: (kind.imageSize, kind.imageSize), context: context)
        let md = MaskDecoder(bag, context: context)
        try bag.finish()
        return SAM(kind: kind, imageEncoder: encoder, promptEncoder: pe, maskDecoder: md, context: context)
    }

    /// Loads a PyTorch checkpoint file.
    public static func load(_ kind: SAMKind, checkpoint path: String, context: ExecutionContext) throws -> SAM {
        try build(kind, from: try TorchCheckpoint(path: path), origin: path, context: context)
    }
}
