import MPIShim
import Training

/// MPI_COMM_WORLD through the C shim. Works under mpirun and as a singleton (rank 0 of 1).
/// MPI can be initialised once per process, so `shared()` initialises lazily and the
/// process finalises at exit through `finalize()`.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    nonisolated(unsafe) private static var instance: MPICommunicator?

    /// Initialises MPI (thread level FUNNELED: every call comes from the training thread).
    public static func shared() throws -> MPICommunicator {
        if let c = instance { return c }
        var flag: Int32 = 0
        mpishim_initialized(&flag)
        if flag == 0 {
            var provided: Int32 = 0
            try check(mpishim_init(Int32(MPISHIM_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        }
        try check(mpishim_set_errors_return(), "MPI_Comm_set_errhandler")
        try check(mpishim_watch_init(), "MPI_Comm_dup (collective watchdog)")
        var r: Int32 = 0, s: Int32 = 0
        try check(mpishim_rank(&r), "MPI_Comm_rank")
        try check(mpishim_size(&s), "MPI_Comm_size")
        let c = MPICommunicator(rank: Int(r), size: Int(s))
        instance = c
        DebuggerStop.honour(rank: c.rank)
        return c
    }

    public static func finalize() {
        var done: Int32 = 0
        mpishim_finalized(&done)
        if instance != nil && done == 0 { mpishim_finalize() }
    }

    public static var libraryVersion: String {
        var buf = [CChar](repeating: 0, count: 512)
        mpishim_library_version(&buf, Int32(buf.count))
        return String(cString: buf)
    }

    /// Seconds any one collective may wait for the other ranks (0: forever). Past it the
    /// collective throws `CollectiveTimeout`, naming the ranks that had not arrived.
    public var timeout: Double {
        get { mpishim_timeout() }
        set { mpishim_set_timeout(newValue) }
    }

    /// Collectives this rank has entered so far.
    public var collectivesEntered: Int { Int(mpishim_entered()) }

    func check(_ code: Int32, _ op: String) throws {
        if code == Int32(MPISHIM_ERR_TIMEOUT) {
            var heard = [Int64](repeating: 0, count: size)
            mpishim_peer_entered(&heard, Int32(size))
            var silence = [Double](repeating: 0, count: size)
            mpishim_peer_silence(&silence, Int32(size))
            throw CollectiveTimeout(operation: op, rank: rank, timeout: timeout, entered: heard.map(Int.init), silentFor: silence)
        }
        try Self.check(code, op)
    }

    static func check(_ code: Int32, _ op: String) throws {
        guard code != 0 else { return }
        var buf = [CChar](repeating: 0, count: 512)
        mpishim_error_string(code, &buf, Int32(buf.count))
        throw CommunicatorError(operation: op, message: String(cString: buf))
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try check(mpishim_allreduce_sum_float(buffer.baseAddress, Int64(buffer.count)), "MPI_Allreduce(float)")
    }

    public func allReduceSum(_ buffer: inout [Double]) throws {
        let n = Int64(buffer.count)
        try check(buffer.withUnsafeMutableBufferPointer { mpishim_allreduce_sum_double($0.baseAddress, n) }, "MPI_Allreduce(double)")
    }

    public func allReduceSum(_ buffer: inout [Int64]) throws {
        let n = Int64(buffer.count)
        try check(buffer.withUnsafeMutableBufferPointer { mpishim_allreduce_sum_int64($0.baseAddress, n) }, "MPI_Allreduce(int64)")
    }

    public func allReduceMax(_ buffer: inout [Int64]) throws {
        let n = Int64(buffer.count)
        try check(buffer.withUnsafeMutableBufferPointer { mpishim_allreduce_max_int64($0.baseAddress, n) }, "MPI_Allreduce(max int64)")
    }

    public func broadcast(_ buffer: inout [Float], root: Int) throws {
        let n = Int64(buffer.count)
        try check(buffer.withUnsafeMutableBufferPointer { mpishim_bcast_float($0.baseAddress, n, Int32(root)) }, "MPI_Bcast(float)")
    }

    public func broadcast(bytes: inout [UInt8], root: Int) throws {
        let n = Int64(bytes.count)
        try check(bytes.withUnsafeMutableBytes { mpishim_bcast_bytes($0.baseAddress, n, Int32(root)) }, "MPI_Bcast(bytes)")
    }

    public func barrier() throws { try check(mpishim_barrier(), "MPI_Barrier") }

    public func startGradientSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int, transport: GradientTransport,
                                 compression: GradientCompression) throws {
        let t: Int32 = transport == .ring ? Int32(MPISHIM_TRANSPORT_RING) : Int32(MPISHIM_TRANSPORT_MPI)
        let w: Int32 = switch compression {
        case .none: Int32(MPISHIM_WIRE_F32)
        case .bf16: Int32(MPISHIM_WIRE_BF16)
        case .fp16: Int32(MPISHIM_WIRE_F16)
        }
        try check(mpishim_gsum_start(Int32(slot), buffer.baseAddress, Int64(buffer.count), t, w),
                  "gradient bucket \(slot) (\(transport.rawValue) all-reduce)")
    }

    public func progressGradientSums() throws { try check(mpishim_gsum_progress(), "gradient buckets (progress)") }

    public func finishGradientSums() throws { try check(mpishim_gsum_finish(), "gradient all-reduce (buckets)") }

    public func gradientSumDone(slot: Int) -> Bool { mpishim_gsum_active(Int32(slot)) == 0 }

    public func abort(code: Int32) -> Never {
        mpishim_abort(code)
        exit(code)
    }

    public func wallTime() -> Double { mpishim_wtime() }
}

#if canImport(Glibc)
import Glibc
#endif
