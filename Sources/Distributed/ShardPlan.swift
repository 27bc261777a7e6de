/// How an epoch's global batches are cut and shared out over the ranks. Rank r of s takes
/// the contiguous samples [n·r/s, n·(r+1)/s) of a batch of n, so 10 over 4 ranks is
/// 2, 3, 2, 3, and a last batch smaller than the rank count leaves some ranks an empty
/// shard (they still join every collective). The batches themselves depend only on the
/// sample order and the batch size, never on the rank count.
public struct ShardPlan: Sendable, Equatable {
    public let ranks: Int
    public init(ranks: Int) { self.ranks = max(1, ranks) }

    /// Positions [lo, hi) of rank `rank`'s share of a batch of `count`.
    public func range(batchCount count: Int, rank: Int) -> Range<Int> {
        (count * rank / ranks)..<(count * (rank + 1) / ranks)
    }

    /// Every rank's shard size for a batch of `count`.
    public func sizes(batchCount count: Int) -> [Int] {
        (0..<ranks).map { range(batchCount: count, rank: $0).count }
    }

    /// Rank `rank`'s share of `batch` (a slice of the epoch's order).
    public func shard(_ batch: ArraySlice<Int>, rank: Int) -> ArraySlice<Int> {
        let r = range(batchCount: batch.count, rank: rank)
        return batch[(batch.startIndex + r.lowerBound)..<(batch.startIndex + r.upperBound)]
    }

    /// The epoch's batches in `order`: full batches of `batchSize`, then the remainder as a
    /// last, smaller batch unless `dropLast`.
    public static func batches(_ order: [Int], batchSize: Int, dropLast: Bool) -> [ArraySlice<Int>] {
        precondition(batchSize >= 1, "ShardPlan.batches: batch size \(batchSize)")
        var out: [ArraySlice<Int>] = []
        var lo = 0
        while lo < order.count {
            let hi = min(lo + batchSize, order.count)
            if hi - lo < batchSize && dropLast { break }
            out.append(order[lo..<hi])
            lo = hi
        }
        return out
    }
}
