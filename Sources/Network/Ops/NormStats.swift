/// Per-group statistics a normalisation's forward saves for its backward: the mean and
/// 1/sqrt(var + eps) of each normalised group (channel, row or pixel).
public struct NormStats: Sendable {
    public var mean: [Float]
    public var invStd: [Float]
    /// Values per channel over all replicas (set by SyncBatchNorm2D; nil for local statistics).
    public var globalCount: Int?

    public init(mean: [Float], invStd: [Float], globalCount: Int? = nil) {
        self.mean = mean
        self.invStd = invStd
        self.globalCount = globalCount
    }
}
