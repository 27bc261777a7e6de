/// Checks every collective the trainer relies on with values whose sums are exact in
/// floating point, so any rank count must reproduce them bit for bit. Used by
/// `autosam-dist check-mpi` (a launch check for users) and by the tests.
public struct CollectiveSelfTest {
    public struct Report: Sendable {
        public var ranks: Int
        public var checks: [String]
        public var allReduceSeconds: Double
        public var floatsReduced: Int
    }

    public var floats: Int

    /// `floats` > 1M exercises the shim's chunking across 4 MB pieces.
    public init(floats: Int = (1 << 20) + 12_345) { self.floats = floats }

    public func run(_ comm: Communicator) throws -> Report {
        let r = comm.rank, n = comm.size
        var checks: [String] = []
        func require(_ ok: Bool, _ what: String) throws {
            guard ok else { throw CommunicatorError(operation: what, message: "rank \(r) of \(n) got a wrong result") }
            checks.append(what)
        }

        // Float sum: rank r contributes (i % 97) + r; small integers are exact in Float.
        var f = [Float](repeating: 0, count: floats)
        for i in 0..<floats { f[i] = Float(i % 97 + r) }
        let t0 = clockSeconds()
        try comm.allReduceSum(&f)
        let dt = clockSeconds() - t0
        let rankSum = n * (n - 1) / 2
        var ok = true
        for i in 0..<floats where f[i] != Float((i % 97) * n + rankSum) { ok = false; break }
        try require(ok, "allreduce-sum float32 (\(floats) values)")

        var d: [Double] = (0..<1000).map { Double($0) * 0.5 + Double(r) }
        try comm.allReduceSum(&d)
        try require(d.enumerated().allSatisfy { $0.element == Double($0.offset) * 0.5 * Double(n) + Double(rankSum) }, "allreduce-sum float64")

        var l: [Int64] = [Int64(r) << 40, 1, -Int64(r)]
        try comm.allReduceSum(&l)
        try require(l == [Int64(rankSum) << 40, Int64(n), -Int64(rankSum)], "allreduce-sum int64")

        var m: [Int64] = [Int64(r), -Int64(r)]
        try comm.allReduceMax(&m)
        try require(m == [Int64(n - 1), 0], "allreduce-max int64")

        // Broadcast from the last rank, so root 0 is not the only case exercised.
        let root = n - 1
        var b = [Float](repeating: Float(r), count: 4099)
        if r == root { for i in 0..<b.count { b[i] = Float(i) * 0.25 } }
        try comm.broadcast(&b, root: root)
        try require(b.enumerated().allSatisfy { $0.element == Float($0.offset) * 0.25 }, "broadcast float32 from rank \(root)")

        var bytes = [UInt8](repeating: UInt8(r), count: 333)
        if r == 0 { for i in 0..<bytes.count { bytes[i] = UInt8(i % 251) } }
        try comm.broadcast(bytes: &bytes, root: 0)
        try require(bytes.enumerated().allSatisfy { $0.element == UInt8($0.offset % 251) }, "broadcast bytes from rank 0")

        try comm.barrier()
        checks.append("barrier")
        return Report(ranks: n, checks: checks, allReduceSeconds: dt, floatsReduced: floats)
    }
}

#if canImport(Glibc)
import Glibc
#endif

func clockSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
