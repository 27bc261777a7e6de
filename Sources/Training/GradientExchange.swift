/// How a gradient bucket travels between the ranks (`distributed.allreduce`).
public enum GradientTransport: String, Codable, Sendable, CaseIterable {
    /// Point-to-point messages around a ring: reduce-scatter, then all-gather, so each link
    /// carries 2(N−1)/N of the bucket (what NCCL and Horovod's MPI ops do for large buffers).
    case ring
    /// Open MPI's own non-blocking all-reduce (4.1 runs an in-place one as a binomial reduce
    /// and broadcast: the whole bucket 2⌈log2 N⌉ times in turn).
    case mpi
}

/// What a gradient bucket is rounded to on the wire (`distributed.compression`), as DDP's
/// fp16/bf16 compression hooks do; every rank keeps the sums in that precision.
public enum GradientCompression: String, Codable, Sendable, CaseIterable {
    case none, bf16, fp16
}
