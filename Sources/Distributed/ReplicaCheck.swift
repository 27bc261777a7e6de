import Datasets

/// Checks that the ranks hold the same thing (data manifest, parameters, statistics) instead
/// of assuming it: every rank contributes a 128-bit digest to its own slots of a zeroed
/// vector and one all-reduce sum gathers them all; a rank whose digest differs from rank 0's
/// is named.
public enum ReplicaCheck {
    public struct Item {
        public var what: String
        public var digest: ContentHash
        public init(_ what: String, _ digest: ContentHash) { self.what = what; self.digest = digest }
    }

    /// Every rank's digest of each item, gathered in one collective: result[item][rank].
    public static func gather(_ items: [Item], comm: Communicator) throws -> [[ContentHash.Words]] {
        let n = comm.size, k = items.count
        var slots = [Int64](repeating: 0, count: 2 * n * k)
        for (i, item) in items.enumerated() {
            let w = item.digest.words
            slots[(i * n + comm.rank) * 2] = Int64(bitPattern: w.0)
            slots[(i * n + comm.rank) * 2 + 1] = Int64(bitPattern: w.1)
        }
        try comm.allReduceSum(&slots)
        return (0..<k).map { i in
            (0..<n).map { r in (UInt64(bitPattern: slots[(i * n + r) * 2]), UInt64(bitPattern: slots[(i * n + r) * 2 + 1])) }
        }
    }

    /// Throws `ReplicaMismatch` naming every rank and item that differs from rank 0; every
    /// rank reaches the same verdict, so all of them stop together.
    public static func verify(_ items: [Item], comm: Communicator, when: String) throws {
        guard comm.size > 1 else { return }
        let all = try gather(items, comm: comm)
        var differences: [ReplicaMismatch.Difference] = []
        for (i, item) in items.enumerated() {
            let ref = all[i][0]
            for r in 1..<comm.size where all[i][r] != ref {
                differences.append(.init(rank: r, what: item.what))
            }
        }
        if !differences.isEmpty { throw ReplicaMismatch(when: when, differences: differences) }
    }
}

public struct ReplicaMismatch: Error, CustomStringConvertible {
    public struct Difference: Equatable { public var rank: Int; public var what: String }
    public var when: String
    public var differences: [Difference]

    public var description: String {
        let byRank = Dictionary(grouping: differences, by: \.rank).sorted { $0.key < $1.key }
        let parts = byRank.map { "rank \($0.key): \($0.value.map(\.what).joined(separator: ", "))" }
        return "replicas differ \(when) — " + parts.joined(separator: "; ") + " differ from rank 0's"
    }
}
