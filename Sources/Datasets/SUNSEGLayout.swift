import Foundation

extension DatasetLayouts {
    /// SUN-SEG: `Frame/<case>/*.jpg` + `GT/<case>/*.png`, paired by case and frame name (sample name
    /// "case/frame"). When the folder holds `.txt` lists whose file name contains "easy" or "hard" (one
    /// case, or case/frame, per line), the samples are split into `<name>/easy`, `<name>/hard` and, for
    /// frames in neither list, `<name>/unlisted` (with a warning). Skipped files and warnings are reported
    /// on the first dataset returned.
    static func sunseg(_ dir: String, name: String, skipBad: Bool) throws -> [SegmentationDataset] {
        let frames = DirectoryListing.join(dir, "Frame"), gt = DirectoryListing.join(dir, "GT")
        var candidates: [Candidate] = []
        var masks: [String: [String]] = [:]
        for c in try DirectoryListing.subdirectories(frames) {
            let caseDir = DirectoryListing.join(frames, c)
            for f in try DirectoryListing.files(caseDir) {
                let key = c + "/" + DirectoryListing.baseName(f)
                candidates.append(Candidate(path: DirectoryListing.join(caseDir, f), key: key, name: key))
            }
        }
        for c in try DirectoryListing.subdirectories(gt) {
            let caseDir = DirectoryListing.join(gt, c)
            for f in try DirectoryListing.files(caseDir) {
                masks[c + "/" + DirectoryListing.baseName(f), default: []].append(DirectoryListing.join(caseDir, f))
            }
        }
        let all = try pair(candidates, masks: masks, maskDescription: "GT/<case>/<frame>.* in \(dir)", rule: .threshold128,
                           layout: .sunseg, name: name, root: dir, skipBad: skipBad)
        let lists = try DirectoryListing.files(dir).filter { DirectoryListing.ext($0) == "txt" }
        var splits: [(String, Set<String>)] = []
        for split in ["easy", "hard"] {
            let files = lists.filter { $0.lowercased().contains(split) }
            guard !files.isEmpty else { continue }
            var entries = Set<String>()
            for f in files {
                let path = DirectoryListing.join(dir, f)
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw ImageError(path: path, problem: "cannot read split list as UTF-8 text")
                }
                for line in text.split(whereSeparator: \.isNewline) {
                    var e = line.trimmingCharacters(in: .whitespaces)
                    if e.hasPrefix("Frame/") { e.removeFirst("Frame/".count) }
                    if !e.isEmpty { entries.insert(e.contains("/") ? DirectoryListing.baseNamePath(e) : e) }
                }
            }
            splits.append((split, entries))
        }
        guard !splits.isEmpty else { return [all] }
        var out: [SegmentationDataset] = []
        var listed = Set<String>()
        for (split, entries) in splits {
            let member = all.samples.filter { s in
                entries.contains(s.name) || entries.contains(String(s.name.split(separator: "/").first ?? ""))
            }
            listed.formUnion(member.map(\.name))
            out.append(SegmentationDataset(name: name + "/" + split, root: dir, layout: .sunseg, samples: member))
        }
        let rest = all.samples.filter { !listed.contains($0.name) }
        if !rest.isEmpty {
            out.append(SegmentationDataset(name: name + "/unlisted", root: dir, layout: .sunseg, samples: rest,
                                           warnings: ["\(rest.count) frame(s) are in no easy/hard list"]))
        }
        out[0].skipped = all.skipped
        out[0].warnings = all.warnings + out[0].warnings
        return out
    }
}

extension DirectoryListing {
    /// "case/frame.jpg" → "case/frame".
    static func baseNamePath(_ p: String) -> String {
        guard let slash = p.lastIndex(of: "/") else { return baseName(p) }
        return String(p[...slash]) + baseName(String(p[p.index(after: slash)...]))
    }
}
