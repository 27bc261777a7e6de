/// The Dice scores the AutoSAM paper (arXiv 2306.06370) reports, in percent, looked
/// up by a dataset's name (its folder name, case-insensitive, punctuation ignored). Only the
/// datasets the paper gives a figure for: none for Kvasir-SEG or CVC-ClinicDB, whose rows show
/// no paper number rather than another dataset's.
public enum PaperResults {
    public struct Entry: Equatable, Sendable {
        public var dataset: String
        public var dice: Double
        public var approximate: Bool
    }

    static let table: [(keys: [String], entry: Entry)] = [
        (["glas"], Entry(dataset: "GlaS", dice: 92.8, approximate: false)),
        (["monuseg"], Entry(dataset: "MoNuSeg", dice: 82.4, approximate: false)),
        (["cvccolondb", "colondb"], Entry(dataset: "CVC-ColonDB", dice: 83, approximate: true)),
        (["etis", "etislaribpolypdb", "etislarib"], Entry(dataset: "ETIS", dice: 79.7, approximate: true)),
        (["sunsegeasy", "testeasydataset", "easy", "seen", "testeasy"], Entry(dataset: "SUN-SEG easy", dice: 75, approximate: true)),
        (["sunseghard", "testharddataset", "hard", "testhard"], Entry(dataset: "SUN-SEG hard", dice: 76, approximate: true)),
    ]

    static func key(_ s: String) -> String { String(s.lowercased().filter { $0.isLetter || $0.isNumber }) }

    /// The paper's entry for a dataset name such as "TestDataset/Kvasir" or "CVC-ClinicDB": the
    /// last path component is matched first, then the whole name.
    public static func lookup(_ name: String) -> Entry? {
        let last = name.split(separator: "/").last.map(String.init) ?? name
        for candidate in [key(last), key(name)] {
            if let hit = table.first(where: { $0.keys.contains(candidate) }) { return hit.entry }
        }
        // A folder named after the dataset with a suffix ("MoNuSegTestData", "Kvasir-SEG-test").
        let lastKey = key(last)
        for (keys, entry) in table.prefix(4) where keys.contains(where: { $0.count >= 4 && lastKey.hasPrefix($0) }) { return entry }
        // SUN-SEG folders are often named like "TestEasyDataset/Seen"; match on a contained word.
        let whole = key(name)
        if whole.contains("sunseg") || whole.contains("testeasy") || whole.contains("testhard") {
            if whole.contains("easy") { return table[4].entry }
            if whole.contains("hard") { return table[5].entry }
        }
        return nil
    }
}
