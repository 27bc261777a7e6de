import Network

/// SyncBatchNorm's statistics travel through the injected communicator.
public final class CommunicatorReducer: BatchStatisticsReducer {
    let comm: Communicator
    public init(_ comm: Communicator) { self.comm = comm }
    public func sum(_ values: inout [Double]) throws { try comm.allReduceSum(&values) }
}
