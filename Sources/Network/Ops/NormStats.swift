/// Per-group statistics a normalisation's forward saves for its backward: the mean and
/// 1/sqrt(var + eps) of each normalised group (channel, row or pixel).
public struct NormStats: Sendable {
    public var mean: [Float]
    public var invStd: [Float]

    public init(mean: [Float], invStd: [Float]) {
        self.mean = mean
        self.invStd = invStd
    }
}
