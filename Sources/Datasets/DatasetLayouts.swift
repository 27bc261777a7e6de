import Foundation

/// Pairing images with masks for each layout DatasetDiscovery recognises.
enum DatasetLayouts {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"]

    struct Candidate {
        var path: String
        var key: String
        var name: String
    }

    /// Pairs images with masks by key; checks every file's header; throws or skips per `skipBad`.
    static func pair(_ images: [Candidate], masks: [String: [String]], maskDescription: String, rule: MaskRule,
                     layout: SegmentationDataset.Layout, name: String, root: String, skipBad: Bool,
                     warnings: [String] = []) throws -> SegmentationDataset {
        var samples: [DatasetSample] = []
        var problems: [DatasetProblem] = []
        var used = Set<String>()
        for c in images {
            do {
                _ = try ImageDecoder.format(of: c.path)
                guard let found = masks[c.key], !found.isEmpty else {
                    problems.append(DatasetProblem(path: c.path, problem: "image has no mask (looked for \(maskDescription))"))
                    continue
                }
                used.insert(c.key)
                guard found.count == 1 else {
                    problems.append(DatasetProblem(path: c.path, problem: "several masks match this image: \(found.joined(separator: ", "))"))
                    continue
                }
                if try !MaskLoader.isXML(found[0]) { _ = try ImageDecoder.format(of: found[0]) }
                samples.append(DatasetSample(imagePath: c.path, maskPath: found[0], name: c.name, maskRule: rule))
            } catch let e as ImageError {
                problems.append(DatasetProblem(e))
            }
        }
        if !problems.isEmpty && !skipBad { throw DatasetError(problems) }
        var notes = warnings
        for key in masks.keys.sorted() where !used.contains(key) {
            for m in masks[key]! { notes.append("mask without an image, ignored: \(m)") }
        }
        return SegmentationDataset(name: name, root: root, layout: layout, samples: samples, skipped: problems, warnings: notes)
    }

    static func byKey(_ dir: String, _ files: [String], key: (String) -> String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for f in files { out[key(f), default: []].append(DirectoryListing.join(dir, f)) }
        return out
    }

    static func imagesMasks(images: String, masks: String, name: String, root: String, skipBad: Bool) throws -> SegmentationDataset {
        let imageFiles = try DirectoryListing.files(images)
        let maskFiles = try DirectoryListing.files(masks)
        let candidates = imageFiles.map {
            Candidate(path: DirectoryListing.join(images, $0), key: DirectoryListing.baseName($0), name: DirectoryListing.baseName($0))
        }
        return try pair(candidates, masks: byKey(masks, maskFiles, key: DirectoryListing.baseName),
                        maskDescription: "a file with the same base name in \(masks)", rule: .threshold128,
                        layout: .imagesMasks, name: name, root: root, skipBad: skipBad)
    }

    /// GlaS: one dataset per name prefix (train, testA, testB); annotations are instance labels (→ > 0).
    static func glas(_ dir: String, name: String, skipBad: Bool) throws -> [SegmentationDataset] {
        var warnings: [String] = []
        var annotations: [String] = [], images: [String] = []
        for f in try DirectoryListing.files(dir) {
            if DirectoryListing.baseName(f).hasSuffix("_anno") { annotations.append(f) }
            else if imageExtensions.contains(DirectoryListing.ext(f)) { images.append(f) }
            else { warnings.append("not an image file by its extension, ignored: \(DirectoryListing.join(dir, f))") }
        }
        let masks = byKey(dir, annotations) { String(DirectoryListing.baseName($0).dropLast("_anno".count)) }
        var groups: [String: [Candidate]] = [:]
        for f in images {
            let base = DirectoryListing.baseName(f)
            groups[prefix(base), default: []].append(Candidate(path: DirectoryListing.join(dir, f), key: base, name: base))
        }
        var out: [SegmentationDataset] = []
        for g in groups.keys.sorted() {
            let groupMasks = masks.filter { prefix($0.key) == g }
            out.append(try pair(groups[g]!, masks: groupMasks, maskDescription: "<name>_anno.* in \(dir)", rule: .nonZero,
                                layout: .glas, name: name + "/" + g, root: dir, skipBad: skipBad,
                                warnings: out.isEmpty ? warnings : []))
        }
        return out
    }

    /// "testA_12" → "testA"; a name without a numeric suffix is its own group.
    static func prefix(_ base: String) -> String {
        guard let u = base.lastIndex(of: "_"), !base[base.index(after: u)...].isEmpty,
              base[base.index(after: u)...].allSatisfy(\.isNumber) else { return base }
        return String(base[..<u])
    }

    static func monuseg(images: String, annotations: String, name: String, root: String, skipBad: Bool) throws -> SegmentationDataset {
        let sideBySide = images == annotations
        let imageFiles = try DirectoryListing.files(images).filter { !sideBySide || ["tif", "tiff"].contains(DirectoryListing.ext($0)) }
        let xml = try DirectoryListing.files(annotations).filter { DirectoryListing.ext($0) == "xml" }
        let candidates = imageFiles.map {
            Candidate(path: DirectoryListing.join(images, $0), key: DirectoryListing.baseName($0), name: DirectoryListing.baseName($0))
        }
        return try pair(candidates, masks: byKey(annotations, xml, key: DirectoryListing.baseName),
                        maskDescription: "<name>.xml in \(annotations)", rule: .nonZero,
                        layout: .monuseg, name: name, root: root, skipBad: skipBad)
    }
}
