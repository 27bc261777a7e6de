import Datasets
import Foundation
import Network

/// The training and validation samples a config names: `data.validation` when given,
/// otherwise a seeded `data.validation_fraction` of `data.train` held out. One function, so
/// `train` and `train-h` hold out exactly the same images.
public struct TrainingSplit {
    public var train: [DatasetSample]
    public var validation: [DatasetSample]
    /// One line per dataset with skipped (unreadable) pairs.
    public var warnings: [String]

    public static func load(_ config: TrainConfig) throws -> TrainingSplit {
        var sets = try SegmentationDataset.discover(config.data.train, skipBad: config.data.skipBad)
        if !config.data.subsets.isEmpty {
            let named = { (s: SegmentationDataset) in String(s.name.split(separator: "/").last ?? Substring(s.name)) }
            for want in config.data.subsets where !sets.contains(where: { named($0) == want }) {
                throw ConfigError(path: config.data.train, problem: "data.subsets: no dataset named '\(want)' here; found "
                                  + sets.map(named).joined(separator: ", "))
            }
            sets = sets.filter { config.data.subsets.contains(named($0)) }
        }
        let warnings = sets.filter { !$0.skipped.isEmpty }.map(\.report)
        var all = sets.flatMap(\.samples)
        guard !all.isEmpty else { throw FileError(path: config.data.train, problem: "no image/mask pairs found") }
        var validation: [DatasetSample] = []
        if let v = config.data.validation {
            validation = try SegmentationDataset.discover(v, skipBad: config.data.skipBad).flatMap(\.samples)
        } else if config.data.validationFraction > 0 && all.count > 1 {
            var rng = SeededRNG(seed: config.train.seed ^ 0x5EED_0F_5A11)
            all.shuffle(using: &rng)
            let n = max(1, Int((Double(all.count) * config.data.validationFraction).rounded()))
            validation = Array(all.prefix(n)).sorted { $0.name < $1.name }
            all = Array(all.dropFirst(n))
        }
        return TrainingSplit(train: all.sorted { $0.imagePath < $1.imagePath }, validation: validation, warnings: warnings)
    }
}
