import Foundation

/// A list of (image, mask, name) triples found on disk in one of the layouts `DatasetDiscovery` knows.
/// Files that cannot be used are either errors (DatasetError, naming each file) or, with `skipBad`,
/// left out and listed in `skipped`: the dataset is never silently shorter than what is on disk.
public struct SegmentationDataset: Sendable {
    public enum Layout: String, Sendable, Codable {
        /// `images/` + `masks/` with matching base names (PraNet's TrainDataset and TestDataset/<name>).
        case imagesMasks
        /// GlaS flat folder: `train_N.bmp` + `train_N_anno.bmp`, `testA_N…`, `testB_N…`.
        case glas
        /// MoNuSeg: `Tissue Images/*.tif` + `Annotations/*.xml`, or `.tif` and `.xml` side by side.
        case monuseg
        /// SUN-SEG: `Frame/<case>/*.jpg` + `GT/<case>/*.png`.
        case sunseg
    }

    /// "Kvasir", "TestDataset/CVC-ClinicDB", "GlaS/testA", "SUN-SEG/easy", …
    public var name: String
    public var root: String
    public var layout: Layout
    public var samples: [DatasetSample]
    /// Files left out because `skipBad` was set (each with its reason).
    public var skipped: [DatasetProblem]
    /// Things worth telling the user that do not change the dataset (a mask without an image, …).
    public var warnings: [String]

    public init(name: String, root: String, layout: Layout, samples: [DatasetSample],
                skipped: [DatasetProblem] = [], warnings: [String] = []) {
        self.name = name
        self.root = root
        self.layout = layout
        self.samples = samples
        self.skipped = skipped
        self.warnings = warnings
    }

    public var count: Int { samples.count }

    /// Every dataset under `root` (see DatasetDiscovery).
    public static func discover(_ root: String, skipBad: Bool = false) throws -> [SegmentationDataset] {
        try DatasetDiscovery.discover(root, skipBad: skipBad)
    }

    /// Decodes sample i: the RGB image and its binary mask, which must have the image's size.
    public func load(_ i: Int) throws -> LoadedSample {
        let s = samples[i]
        let image = try ImageDecoder.read(s.imagePath, channels: 3)
        let mask = try MaskLoader.binary(s.maskPath, rule: s.maskRule, imageWidth: image.width, imageHeight: image.height)
        return LoadedSample(sample: s, image: image, mask: mask)
    }

    /// The instance map of sample i (MoNuSeg nuclei, GlaS glands), at the image's size.
    public func loadInstances(_ i: Int) throws -> InstanceMap {
        let s = samples[i]
        let image = try ImageDecoder.read(s.imagePath, channels: 1)
        return try MaskLoader.instances(s.maskPath, imageWidth: image.width, imageHeight: image.height)
    }

    /// Decodes every sample. Without `skipBad` every failure is collected and thrown
    /// together as a DatasetError; with `skipBad` failing samples are left out and returned in `skipped`.
    public func loadAll(skipBad: Bool = false) throws -> (samples: [LoadedSample], skipped: [DatasetProblem]) {
        var loaded: [LoadedSample] = []
        var problems: [DatasetProblem] = []
        for i in samples.indices {
            do {
                loaded.append(try load(i))
            } catch let e as ImageError {
                problems.append(DatasetProblem(e))
            }
        }
        if !problems.isEmpty && !skipBad { throw DatasetError(problems) }
        return (loaded, problems)
    }

    /// One line per skipped file and warning, prefixed "warning:", plus the count; empty when clean.
    public var report: String {
        var lines = warnings.map { "warning: \(name): \($0)" }
        lines += skipped.map { "warning: skipped \($0)" }
        if !skipped.isEmpty { lines.append("warning: \(name): skipped \(skipped.count) file(s); \(samples.count) samples remain") }
        return lines.joined(separator: "\n")
    }
}
