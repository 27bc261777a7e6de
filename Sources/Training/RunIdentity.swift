import Datasets
import Foundation

/// What a training run's result depends on besides its own state: the SAM weights' bytes,
/// the config keys that change the result, and the data. Recorded in every checkpoint; a
/// resume whose inputs differ is refused with each difference named. Keys that do not change
/// the result (epochs, output, checkpoint cadence, the distributed section) may change.
public struct RunIdentity: Codable, Equatable, Sendable {
    public var samSHA256: String
    /// The result-changing config keys, as "key: value" lines (their fingerprint is `fingerprint`).
    public var settings: [String]
    public var manifest: DatasetManifest

    public init(config: TrainConfig, samSHA256: String, manifest: DatasetManifest) {
        self.samSHA256 = samSHA256
        settings = Self.settings(config)
        self.manifest = manifest
    }

    /// A short digest of `settings`.
    public var fingerprint: String {
        var h = ContentHash()
        h.update(settings.joined(separator: "\n"))
        return String(h.hex.prefix(16))
    }

    /// The keys whose change changes what training computes.
    static func settings(_ c: TrainConfig) -> [String] {
        // init_from and the schedule only when set, so checkpoints from before those keys resume unchanged.
        var optional = c.generator.initFrom.map { ["generator.init_from: \($0)"] } ?? []
        if c.train.schedule != .constant || c.train.warmupSteps > 0 {
            optional += ["train.schedule: \(c.train.schedule.rawValue)", "train.warmup_steps: \(c.train.warmupSteps)"]
            // A cosine decays over the whole run, so the epoch count changes every step's rate.
            if c.train.schedule == .cosine { optional.append("train.epochs: \(c.train.epochs)") }
        }
        // Recomputed statistics are part of the state every later step and checkpoint carries.
        if c.train.preciseBNImages > 0 { optional.append("train.precise_bn_images: \(c.train.preciseBNImages)") }
        if let n = c.generator.inputSize { optional.append("generator.input_size: \(n)") }
        if c.generator.input != .image { optional.append("generator.input: \(c.generator.input.rawValue)") }
        // Absent means float32, the only precision before the key existed.
        if c.output.cachePrecision != .float32 { optional.append("output.cache_precision: \(c.output.cachePrecision.rawValue)") }
        return optional + [
            "model.sam: \(c.model.sam.rawValue)",
            "generator.backbone: \(c.generator.backbone)",
            "generator.pretrained: \(c.generator.pretrained ?? "none")",
            "loss.activation: \(c.loss.activation.rawValue)",
            "train.batch_size: \(c.train.batchSize)",
            "train.accumulate: \(c.train.accumulate)",
            "train.lr: \(c.train.lr)",
            "train.weight_decay: \(c.train.weightDecay)",
            "train.seed: \(c.train.seed)",
            "train.drop_last: \(c.train.dropLast)",
            "augment.enabled: \(c.augment.enabled)",
            "augment.variants: \(c.augment.variants)",
            "data.validation_fraction: \(c.data.validationFraction)",
        ]
    }

    /// Every way `self` (what a checkpoint was trained against) differs from `now`, one line each.
    public func differences(from now: RunIdentity) -> [String] {
        var out: [String] = []
        if samSHA256 != now.samSHA256 {
            out.append("SAM weights: SHA-256 \(samSHA256.prefix(16))… in the checkpoint, \(now.samSHA256.prefix(16))… now")
        }
        let then = Dictionary(settings.map(Self.split), uniquingKeysWith: { a, _ in a })
        let current = Dictionary(now.settings.map(Self.split), uniquingKeysWith: { a, _ in a })
        for (key, value) in now.settings.map(Self.split) where then[key] != value {
            out.append("\(key): \(then[key] ?? "absent") in the checkpoint, \(value) now")
        }
        for (key, value) in settings.map(Self.split) where current[key] == nil {
            out.append("\(key): \(value) in the checkpoint, absent now")
        }
        out += manifest.differences(from: now.manifest)
        return out
    }

    static func split(_ line: String) -> (String, String) {
        guard let r = line.range(of: ": ") else { return (line, "") }
        return (String(line[..<r.lowerBound]), String(line[r.upperBound...]))
    }
}

/// The samples a run trains and validates on: sorted paths with their sizes in bytes.
public struct DatasetManifest: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var path: String
        public var bytes: Int
    }
    public var train: [Entry]
    public var validation: [Entry]

    public init(train: [DatasetSample], validation: [DatasetSample]) throws {
        self.train = try Self.entries(train)
        self.validation = try Self.entries(validation)
    }

    static func entries(_ samples: [DatasetSample]) throws -> [Entry] {
        var out: [Entry] = []
        for s in samples {
            for p in [s.imagePath, s.maskPath] {
                let attrs = try? FileManager.default.attributesOfItem(atPath: p)
                guard let size = (attrs?[.size] as? NSNumber)?.intValue else {
                    throw FileError(path: p, problem: "cannot read the file's size for the dataset manifest")
                }
                out.append(Entry(path: p, bytes: size))
            }
        }
        return out.sorted { $0.path < $1.path }
    }

    public var count: Int { train.count + validation.count }

    public var digest: ContentHash {
        var h = ContentHash()
        for (tag, list) in [("train", train), ("validation", validation)] {
            h.update(tag)
            for e in list { h.update("\(e.path)\u{0}\(e.bytes)\u{0}") }
        }
        return h
    }

    func differences(from now: DatasetManifest) -> [String] {
        var out: [String] = []
        for (name, a, b) in [("training data", train, now.train), ("validation data", validation, now.validation)] where a != b {
            let old = Dictionary(a.map { ($0.path, $0.bytes) }, uniquingKeysWith: { x, _ in x })
            let new = Dictionary(b.map { ($0.path, $0.bytes) }, uniquingKeysWith: { x, _ in x })
            let removed = a.filter { new[$0.path] == nil }.map(\.path)
            let added = b.filter { old[$0.path] == nil }.map(\.path)
            let changed = b.filter { old[$0.path] != nil && old[$0.path] != $0.bytes }.map(\.path)
            var parts: [String] = []
            func list(_ xs: [String]) -> String { xs.prefix(3).joined(separator: ", ") + (xs.count > 3 ? ", …" : "") }
            if !added.isEmpty { parts.append("\(added.count) file(s) added (\(list(added)))") }
            if !removed.isEmpty { parts.append("\(removed.count) file(s) gone (\(list(removed)))") }
            if !changed.isEmpty { parts.append("\(changed.count) file(s) changed size (\(list(changed)))") }
            out.append("\(name): \(a.count / 2) pairs in the checkpoint, \(b.count / 2) now — " + parts.joined(separator: "; "))
        }
        return out
    }
}
