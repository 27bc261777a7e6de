import Foundation
import Network
import Yams

/// The typed training configuration (YAML). Unknown keys are rejected with the closest
/// known key suggested, so a typo never silently falls back to a default.
public struct TrainConfig: Codable, Equatable, Sendable {
    public struct Model: Codable, Equatable, Sendable {
        public var sam: SAMKind = .liteMedSAM
        public var checkpoint: String = "weights/lite_medsam.pth"
        enum CodingKeys: String, CodingKey, CaseIterable { case sam, checkpoint }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sam = try c.decodeIfPresent(SAMKind.self, forKey: .sam) ?? sam
            checkpoint = try c.decodeIfPresent(String.self, forKey: .checkpoint) ?? checkpoint
        }
    }

    public struct Generator: Codable, Equatable, Sendable {
        /// hardnet85 (the paper's), hardnet68, hardnet39ds (lighter, for CPUs), mobilenet_v2
        /// (torchvision's; its ImageNet weights are fetched by Launch/fetch-weights.sh).
        public var backbone: String = "hardnet85"
        /// An ImageNet checkpoint of the backbone to start from (HarDNet's `base.N` layout or
        /// torchvision's MobileNetV2 `features.N`); random initialisation when absent.
        public var pretrained: String?
        /// A whole g (`ModelEmb` state dict, .pth or .safetensors, e.g. from `export` or
        /// PyTorch) to start from; `train --init-from` sets it.
        public var initFrom: String?
        /// Side of g's square input, the SAM input resized (a multiple of 16); absent: SAM's
        /// input side, at most 512 (`AutoSAM.defaultGeneratorSide`).
        public var inputSize: Int?
        /// What g reads: `image` (the paper's g: backbone and decoder), `embedding` (a small
        /// head on SAM's cached image embedding, no backbone), or `both`.
        public var input: GeneratorInput = .image
        enum CodingKeys: String, CodingKey, CaseIterable { case backbone, pretrained, initFrom = "init_from", inputSize = "input_size", input }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            backbone = try c.decodeIfPresent(String.self, forKey: .backbone) ?? backbone
            pretrained = try c.decodeIfPresent(String.self, forKey: .pretrained)
            initFrom = try c.decodeIfPresent(String.self, forKey: .initFrom)
            inputSize = try c.decodeIfPresent(Int.self, forKey: .inputSize)
            input = try c.decodeIfPresent(GeneratorInput.self, forKey: .input) ?? input
        }
    }

    public struct DataSection: Codable, Equatable, Sendable {
        public var train: String = "demo-data/TrainDataset"
        /// A separate validation folder; when absent, a seeded fraction of `train` is held out.
        public var validation: String?
        public var validationFraction: Double = 0.2
        public var test: [String] = []
        public var skipBad: Bool = false
        /// Of the datasets found under `train`, the ones to train on, by folder or group name
        /// (GlaS keeps train, testA and testB in one folder: `[train]`); empty: all of them.
        public var subsets: [String] = []
        enum CodingKeys: String, CodingKey, CaseIterable {
            case train, validation, test, subsets
            case validationFraction = "validation_fraction", skipBad = "skip_bad"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            train = try c.decodeIfPresent(String.self, forKey: .train) ?? train
            validation = try c.decodeIfPresent(String.self, forKey: .validation)
            validationFraction = try c.decodeIfPresent(Double.self, forKey: .validationFraction) ?? validationFraction
            test = try c.decodeIfPresent([String].self, forKey: .test) ?? test
            skipBad = try c.decodeIfPresent(Bool.self, forKey: .skipBad) ?? skipBad
            subsets = try c.decodeIfPresent([String].self, forKey: .subsets) ?? subsets
        }
    }

    public struct Augment: Codable, Equatable, Sendable {
        public var enabled: Bool = true
        /// Augmented variants kept per image (their embeddings are cached); 1 = one fixed variant.
        public var variants: Int = 4
        enum CodingKeys: String, CodingKey, CaseIterable { case enabled, variants }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            variants = try c.decodeIfPresent(Int.self, forKey: .variants) ?? variants
        }
    }

    public struct Optimisation: Codable, Equatable, Sendable {
        public var epochs: Int = 20
        public var batchSize: Int = 10
        /// Batches whose gradients are summed before each Adam step (the authors use 4).
        public var accumulate: Int = 1
        public var lr: Float = 3e-4
        public var weightDecay: Float = 1e-5
        public var seed: UInt64 = 0
        /// Drop the epoch's last, smaller batch instead of training on it.
        public var dropLast: Bool = false
        /// The learning rate over the run: constant (the paper's), or cosine decay to 0 at the last step.
        public var schedule: LRSchedule = .constant
        /// Optimiser steps over which the learning rate ramps linearly up to `lr` first.
        public var warmupSteps: Int = 0
        /// Training images over which g's BatchNorm running statistics are recomputed as a plain
        /// average before each validation (PreciseBN); 0 keeps the exponential running averages.
        public var preciseBNImages: Int = 0
        enum CodingKeys: String, CodingKey, CaseIterable {
            case epochs, accumulate, lr, seed, schedule
            case batchSize = "batch_size", weightDecay = "weight_decay", dropLast = "drop_last", warmupSteps = "warmup_steps"
            case preciseBNImages = "precise_bn_images"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? epochs
            batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
            accumulate = try c.decodeIfPresent(Int.self, forKey: .accumulate) ?? accumulate
            lr = try c.decodeIfPresent(Float.self, forKey: .lr) ?? lr
            weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? weightDecay
            seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
            dropLast = try c.decodeIfPresent(Bool.self, forKey: .dropLast) ?? dropLast
            schedule = try c.decodeIfPresent(LRSchedule.self, forKey: .schedule) ?? schedule
            warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? warmupSteps
            preciseBNImages = try c.decodeIfPresent(Int.self, forKey: .preciseBNImages) ?? preciseBNImages
        }
    }

    public struct Loss: Codable, Equatable, Sendable {
        /// sigmoid (default: BCE-with-logits + soft Dice; empty masks are learnable) or minmax (the authors' form).
        public var activation: LossActivation = .sigmoid
        enum CodingKeys: String, CodingKey, CaseIterable { case activation }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            activation = try c.decodeIfPresent(LossActivation.self, forKey: .activation) ?? activation
        }
    }

    public struct Output: Codable, Equatable, Sendable {
        public var dir: String = "runs/demo"
        public var cache: String = "runs/embedding-cache"
        /// How the cache stores embeddings: float16 (half the disk and memory) or float32.
        public var cachePrecision: CachePrecision = .float16
        /// Epochs between `last.ckpt` writes.
        public var checkpointEvery: Int = 1
        /// Optimiser steps between step checkpoints (`step-<n>.ckpt`); nil: none.
        public var checkpointEverySteps: Int?
        /// Minutes between step checkpoints (written at the next optimiser step); nil: none.
        public var checkpointEveryMinutes: Double?
        /// Step checkpoints kept (the newest); `best.ckpt` and `last.ckpt` are kept besides.
        public var keep: Int = 3
        enum CodingKeys: String, CodingKey, CaseIterable {
            case dir, cache, keep, checkpointEvery = "checkpoint_every", cachePrecision = "cache_precision"
            case checkpointEverySteps = "checkpoint_every_steps", checkpointEveryMinutes = "checkpoint_every_minutes"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dir = try c.decodeIfPresent(String.self, forKey: .dir) ?? dir
            cache = try c.decodeIfPresent(String.self, forKey: .cache) ?? cache
            cachePrecision = try c.decodeIfPresent(CachePrecision.self, forKey: .cachePrecision) ?? cachePrecision
            checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? checkpointEvery
            checkpointEverySteps = try c.decodeIfPresent(Int.self, forKey: .checkpointEverySteps)
            checkpointEveryMinutes = try c.decodeIfPresent(Double.self, forKey: .checkpointEveryMinutes)
            keep = try c.decodeIfPresent(Int.self, forKey: .keep) ?? keep
        }
    }

    public struct DistributedSection: Codable, Equatable, Sendable {
        /// Seconds any collective may wait for the other ranks before the job ends naming them
        /// (torch.distributed's default is 10 minutes); 0 waits forever.
        public var timeoutS: Double = 600
        /// Optimiser steps between checks that every rank holds the same parameters.
        public var checkEvery: Int = 100
        /// The batch-invariant mode: N ranks give the same bits as one (per-sample kernels,
        /// sums in the batch's order, an exact gradient sum); needs the reference conv engine.
        public var deterministic = false
        /// Gradient buckets start their all-reduce while backward still runs (PyTorch DDP's
        /// overlap); the sums are the same bits either way.
        public var overlap = true
        /// Megabytes of gradients per bucket after the first (1 MB, so the exchange starts early).
        public var bucketMB: Double = 25
        /// How a bucket travels: `ring` or `mpi` (Open MPI's all-reduce).
        public var allreduce: GradientTransport = .ring
        /// bf16 or fp16 gradients on the wire (ring only); `none` sends float32.
        public var compression: GradientCompression = .none
        enum CodingKeys: String, CodingKey, CaseIterable {
            case timeoutS = "timeout_s", checkEvery = "check_every", deterministic, overlap, bucketMB = "bucket_mb", allreduce, compression
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            timeoutS = try c.decodeIfPresent(Double.self, forKey: .timeoutS) ?? timeoutS
            checkEvery = try c.decodeIfPresent(Int.self, forKey: .checkEvery) ?? checkEvery
            deterministic = try c.decodeIfPresent(Bool.self, forKey: .deterministic) ?? deterministic
            overlap = try c.decodeIfPresent(Bool.self, forKey: .overlap) ?? overlap
            bucketMB = try c.decodeIfPresent(Double.self, forKey: .bucketMB) ?? bucketMB
            allreduce = try c.decodeIfPresent(GradientTransport.self, forKey: .allreduce) ?? allreduce
            compression = try c.decodeIfPresent(GradientCompression.self, forKey: .compression) ?? compression
        }
    }

    public var model = Model()
    public var generator = Generator()
    public var data = DataSection()
    public var augment = Augment()
    public var train = Optimisation()
    public var loss = Loss()
    public var output = Output()
    public var distributed = DistributedSection()
    /// predict / eval / figures only (InferenceConfig.swift); not part of a checkpoint's RunIdentity.
    public var inference = InferenceConfig()

    enum CodingKeys: String, CodingKey, CaseIterable { case model, generator, data, augment, train, loss, output, distributed, inference }

    public init() {}

    /// The side of g's input in this run: `generator.input_size`, or the default for the SAM.
    public var generatorSide: Int { generator.inputSize ?? AutoSAM.defaultGeneratorSide(model.sam.imageSize) }

    /// An untrained g as this config describes it (initialised from `rng`).
    public func makeGenerator(context: ExecutionContext, rng: inout SeededRNG) throws -> PromptGenerator {
        guard let backbone = GeneratorBackbone.named(generator.backbone) else {
            throw ConfigError(path: "config", problem: "generator.backbone: unknown backbone \(generator.backbone)")
        }
        return PromptGenerator(backbone: backbone, input: generator.input, context: context, rng: &rng)
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(Model.self, forKey: .model) ?? model
        generator = try c.decodeIfPresent(Generator.self, forKey: .generator) ?? generator
        data = try c.decodeIfPresent(DataSection.self, forKey: .data) ?? data
        augment = try c.decodeIfPresent(Augment.self, forKey: .augment) ?? augment
        train = try c.decodeIfPresent(Optimisation.self, forKey: .train) ?? train
        loss = try c.decodeIfPresent(Loss.self, forKey: .loss) ?? loss
        output = try c.decodeIfPresent(Output.self, forKey: .output) ?? output
        distributed = try c.decodeIfPresent(DistributedSection.self, forKey: .distributed) ?? distributed
        inference = try c.decodeIfPresent(InferenceConfig.self, forKey: .inference) ?? inference
    }

    /// Reads and checks a YAML config; errors name the file, the key path and the problem.
    public static func load(_ path: String) throws -> TrainConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(path: path, problem: "cannot read the file")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String = "<config>") throws -> TrainConfig {
        let cfg: TrainConfig
        do {
            cfg = try YAMLDecoder().decode(TrainConfig.self, from: text.isEmpty ? "{}" : text)
        } catch {
            throw ConfigError(path: path, problem: describe(error))
        }
        try cfg.check(path: path)
        return cfg
    }

    /// The innermost useful message of a decoding error, with its key path.
    static func describe(_ error: Error) -> String {
        if let e = error as? ConfigError { return e.problem }
        guard let d = error as? DecodingError else { return "\(error)" }
        let ctx: DecodingError.Context
        switch d {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): ctx = c
        @unknown default: return "\(error)"
        }
        if let inner = ctx.underlyingError { return describe(inner) }
        let at = ctx.codingPath.map(\.stringValue).joined(separator: ".")
        return (at.isEmpty ? "" : "\(at): ") + ctx.debugDescription
    }

    public func check(path: String) throws {
        func bad(_ s: String) -> ConfigError { ConfigError(path: path, problem: s) }
        if train.epochs < 1 { throw bad("train.epochs must be at least 1, got \(train.epochs)") }
        if train.batchSize < 1 { throw bad("train.batch_size must be at least 1, got \(train.batchSize)") }
        if train.accumulate < 1 { throw bad("train.accumulate must be at least 1, got \(train.accumulate)") }
        if !(train.lr > 0) { throw bad("train.lr must be positive, got \(train.lr)") }
        if train.weightDecay < 0 { throw bad("train.weight_decay must not be negative") }
        if train.warmupSteps < 0 { throw bad("train.warmup_steps must not be negative, got \(train.warmupSteps)") }
        if train.preciseBNImages < 0 { throw bad("train.precise_bn_images must not be negative, got \(train.preciseBNImages)") }
        if augment.variants < 1 { throw bad("augment.variants must be at least 1, got \(augment.variants)") }
        if !(0..<1).contains(data.validationFraction) { throw bad("data.validation_fraction must be in [0, 1), got \(data.validationFraction)") }
        if output.checkpointEvery < 1 { throw bad("output.checkpoint_every must be at least 1") }
        if let n = output.checkpointEverySteps, n < 1 { throw bad("output.checkpoint_every_steps must be at least 1, got \(n)") }
        if let m = output.checkpointEveryMinutes, !(m > 0) { throw bad("output.checkpoint_every_minutes must be positive, got \(m)") }
        if output.keep < 1 { throw bad("output.keep must be at least 1, got \(output.keep)") }
        if let p = inference.problem { throw bad(p) }
        if distributed.timeoutS < 0 { throw bad("distributed.timeout_s must not be negative (0 waits forever), got \(distributed.timeoutS)") }
        if distributed.checkEvery < 1 { throw bad("distributed.check_every must be at least 1, got \(distributed.checkEvery)") }
        if !(distributed.bucketMB > 0) { throw bad("distributed.bucket_mb must be positive, got \(distributed.bucketMB)") }
        if distributed.compression != .none && distributed.allreduce != .ring {
            throw bad("distributed.compression: \(distributed.compression.rawValue) needs distributed.allreduce: ring (Open MPI's all-reduce sums float32 only)")
        }
        if distributed.compression != .none && distributed.deterministic {
            throw bad("distributed.compression: \(distributed.compression.rawValue) and distributed.deterministic exclude each other (the deterministic mode's gradient sum is exact, in int64)")
        }
        if let p = generator.pretrained, let i = generator.initFrom {
            throw bad("generator.pretrained (\(p)) and generator.init_from / --init-from (\(i)) both give g's starting weights: keep one")
        }
        if let n = generator.inputSize, !(64...1024).contains(n) || n % 16 != 0 {
            throw bad("generator.input_size must be a multiple of 16 from 64 to 1024 (g's backbone stops at stride 16), got \(n)")
        }
        let backbones = GeneratorBackbone.names
        if generator.input == .embedding, let p = generator.pretrained {
            throw bad("generator.pretrained (\(p)) is a backbone's weights, and generator.input: embedding builds no backbone: drop one of them")
        }
        if !backbones.contains(generator.backbone) {
            throw bad("generator.backbone must be one of \(backbones.joined(separator: ", ")), got \(generator.backbone)")
        }
    }

    public func yaml() throws -> String { try YAMLEncoder().encode(self) }
}

/// The learning rate as a function of the optimiser step.
public enum LRSchedule: String, Codable, Sendable, CaseIterable {
    case constant, cosine

    /// The rate for optimiser step `step` (0-based) of `total`, after `warmup` linear steps.
    public func rate(base: Float, step: Int, total: Int, warmup: Int) -> Float {
        var f = 1.0
        if warmup > 0 && step < warmup { f = Double(step + 1) / Double(warmup) }
        if self == .cosine && total > warmup {
            let t = Double(max(step - warmup, 0)) / Double(total - warmup)
            f *= 0.5 * (1 + cos(Double.pi * min(t, 1)))
        }
        return Float(Double(base) * f)
    }
}

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Throws for keys that `Keys` does not know, suggesting the nearest known one.
func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: Decoder, _: Keys.Type) throws {
    guard let raw = try? decoder.container(keyedBy: AnyKey.self) else { return }
    let known = Keys.allCases.map(\.stringValue)
    for k in raw.allKeys where !known.contains(k.stringValue) {
        let prefix = decoder.codingPath.map(\.stringValue).joined(separator: ".")
        let full = prefix.isEmpty ? k.stringValue : prefix + "." + k.stringValue
        let nearest = known.min { editDistance($0, k.stringValue) < editDistance($1, k.stringValue) }
        var msg = "unknown key '\(full)'"
        if let n = nearest, editDistance(n, k.stringValue) <= 3 { msg += " (did you mean '\(n)'?)" }
        msg += "; known keys here: \(known.joined(separator: ", "))"
        throw ConfigError(path: "", problem: msg)
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var prev = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var cur = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return a.isEmpty ? b.count : prev[b.count]
}
