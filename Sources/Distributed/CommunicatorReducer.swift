import Network

/// SyncBatchNorm's statistics travel through the injected communicator. A rank with an empty
/// shard sets `contributes` to false: it joins each sum with zeros. With `sampleLayout` set
/// (the batch-invariant mode) sums keep the global batch's sample order.
public final class CommunicatorReducer: BatchStatisticsReducer {
    let comm: Communicator
    public var contributes = true
    /// This rank's samples' positions in the global batch, and the batch's size.
    public var sampleLayout: (mine: Range<Int>, batch: Int)?
    public init(_ comm: Communicator) { self.comm = comm }

    public func sum(_ values: inout [Double]) throws {
        if !contributes { for i in values.indices { values[i] = 0 } }
        try comm.allReduceSum(&values)
    }

    public var keepsSampleOrder: Bool { sampleLayout != nil }

    /// Every rank writes its samples' rows into a table of the whole batch, zeros elsewhere;
    /// one all-reduce fills the table exactly (x + 0 = x), and every rank adds its rows in the
    /// batch's order, so the sums are the same bits for any split of the batch.
    public func sumInSampleOrder(_ rows: [Double], width: Int) throws -> [Double] {
        guard let (mine, batch) = sampleLayout else {
            var total = SyncBatchNorm2D.sumRows(rows, width: width)
            try sum(&total)
            return total
        }
        var table = [Double](repeating: 0, count: batch * width)
        if contributes {
            precondition(rows.count == mine.count * width, "sumInSampleOrder: \(rows.count / max(width, 1)) rows for samples \(mine)")
            table.replaceSubrange((mine.lowerBound * width)..<(mine.upperBound * width), with: rows)
        }
        try comm.allReduceSum(&table)
        return SyncBatchNorm2D.sumRows(table, width: width)
    }
}
