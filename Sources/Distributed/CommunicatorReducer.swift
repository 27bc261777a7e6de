import Network

/// SyncBatchNorm's statistics travel through the injected communicator. A rank with an empty
/// shard sets `contributes` to false: it joins each sum with zeros.
public final class CommunicatorReducer: BatchStatisticsReducer {
    let comm: Communicator
    public var contributes = true
    public init(_ comm: Communicator) { self.comm = comm }
    public func sum(_ values: inout [Double]) throws {
        if !contributes { for i in values.indices { values[i] = 0 } }
        try comm.allReduceSum(&values)
    }
}
