import Foundation

/// Finds datasets under a folder. A folder is a dataset when it holds, in this order of precedence:
/// `images/` + `masks/` (any such folder; PraNet's TrainDataset and TestDataset/<name> are examples),
/// `Frame/` + `GT/` (SUN-SEG), `Tissue Images/` + `Annotations/` (MoNuSeg training layout), files
/// named `*_anno.<ext>` (GlaS), or `.tif` files with same-named `.xml` beside them (MoNuSeg test layout).
/// Other folders are searched recursively (up to 6 levels). Each file is checked to be a readable image
/// (magic bytes) or annotation; every problem names its file.
public enum DatasetDiscovery {
    static let maxDepth = 6

    public static func discover(_ root: String, skipBad: Bool = false) throws -> [SegmentationDataset] {
        guard DirectoryListing.isDirectory(root) else {
            let exists = FileManager.default.fileExists(atPath: root)
            throw ImageError(path: root, problem: exists ? "not a directory" : "dataset directory does not exist")
        }
        var found: [SegmentationDataset] = []
        try walk(root, relative: "", rootName: (root as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? root,
                 depth: 0, skipBad: skipBad, into: &found)
        guard !found.isEmpty else {
            throw ImageError(path: root, problem: "no dataset found (expected images/ + masks/, GlaS *_anno files, "
                + "MoNuSeg Tissue Images/ + Annotations/, or SUN-SEG Frame/ + GT/)")
        }
        return found
    }

    static func walk(_ dir: String, relative: String, rootName: String, depth: Int, skipBad: Bool,
                     into found: inout [SegmentationDataset]) throws {
        let name = relative.isEmpty ? rootName : relative
        let subdirs = try DirectoryListing.subdirectories(dir)
        let has = { (d: String) in subdirs.contains(d) }
        func sub(_ d: String) -> String { DirectoryListing.join(dir, d) }
        if let i = ["images", "Images"].first(where: has), let m = ["masks", "Masks"].first(where: has) {
            found.append(try DatasetLayouts.imagesMasks(images: sub(i), masks: sub(m), name: name, root: dir, skipBad: skipBad))
            return
        }
        if has("Frame"), has("GT") {
            found += try DatasetLayouts.sunseg(dir, name: name, skipBad: skipBad)
            return
        }
        if let t = ["Tissue Images", "Tissue_Images"].first(where: has), has("Annotations") {
            found.append(try DatasetLayouts.monuseg(images: sub(t), annotations: sub("Annotations"), name: name, root: dir, skipBad: skipBad))
            return
        }
        let files = try DirectoryListing.files(dir)
        if files.contains(where: { DirectoryListing.baseName($0).hasSuffix("_anno") }) {
            found += try DatasetLayouts.glas(dir, name: name, skipBad: skipBad)
            return
        }
        let bases = Set(files.filter { DirectoryListing.ext($0) == "xml" }.map(DirectoryListing.baseName))
        if files.contains(where: { ["tif", "tiff"].contains(DirectoryListing.ext($0)) && bases.contains(DirectoryListing.baseName($0)) }) {
            found.append(try DatasetLayouts.monuseg(images: dir, annotations: dir, name: name, root: dir, skipBad: skipBad))
            return
        }
        guard depth < maxDepth else { return }
        for d in subdirs {
            try walk(sub(d), relative: relative.isEmpty ? d : relative + "/" + d, rootName: rootName,
                     depth: depth + 1, skipBad: skipBad, into: &found)
        }
    }
}
