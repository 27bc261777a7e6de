/// The group a rank trains in. Injected into everything that needs to talk to other
/// ranks, never global, so tests can run a trainer over a single-process group.
/// All ranks must call collectives in the same order.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// In-place elementwise sum over all ranks.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allReduceSum(_ buffer: inout [Double]) throws
    func allReduceSum(_ buffer: inout [Int64]) throws
    func allReduceMax(_ buffer: inout [Int64]) throws
    /// Every rank receives `root`'s values; the buffer must have the same length everywhere.
    func broadcast(_ buffer: inout [Float], root: Int) throws
    func broadcast(bytes: inout [UInt8], root: Int) throws
    func barrier() throws
    /// Seconds one collective may wait for the others before it throws (0: no deadline).
    var timeout: Double { get set }
    /// Ends every rank of the job (a rank that cannot go on must not leave the others hanging).
    func abort(code: Int32) -> Never

    /// Starts summing a gradient bucket over the ranks and returns at once; `buffer` must stay
    /// in place, untouched, until `finishGradientSums`. Buckets start in the same order on
    /// every rank; `slot` (0..<64) names one until it is finished.
    func startGradientSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int, transport: GradientTransport,
                          compression: GradientCompression) throws
    /// Moves every started bucket along without waiting (called between layers of backward).
    func progressGradientSums() throws
    /// Waits for every started bucket (one collective under the deadline).
    func finishGradientSums() throws
    /// Whether bucket `slot`'s sum has arrived (for the timeline).
    func gradientSumDone(slot: Int) -> Bool
}

/// A group without overlap: a bucket is summed by the blocking all-reduce when it starts.
public extension Communicator {
    func startGradientSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int, transport: GradientTransport,
                          compression: GradientCompression) throws {
        try allReduceSum(buffer)
    }
    func progressGradientSums() throws {}
    func finishGradientSums() throws {}
    func gradientSumDone(slot: Int) -> Bool { true }
}

public extension Communicator {
    var isRoot: Bool { rank == 0 }

    func allReduceSum(_ buffer: inout [Float]) throws {
        try buffer.withUnsafeMutableBufferPointer { try allReduceSum($0) }
    }
}

public struct CommunicatorError: Error, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var description: String { "MPI \(operation) failed: \(message)" }
}

/// A collective that did not complete within the deadline. `entered[r]` is the newest count
/// of collectives entered that this rank heard from rank r (its own at its own index), and
/// `silentFor[r]` how long ago it heard from r (-1: never). A rank with a lower count never
/// reached this collective; a rank silent for more than a few seconds stopped inside it (ranks
/// that wait speak every half second).
public struct CollectiveTimeout: Error, CustomStringConvertible {
    public let operation: String
    public let rank: Int
    public let timeout: Double
    public let entered: [Int]
    public let silentFor: [Double]

    public init(operation: String, rank: Int, timeout: Double, entered: [Int], silentFor: [Double]? = nil) {
        self.operation = operation; self.rank = rank; self.timeout = timeout; self.entered = entered
        self.silentFor = silentFor ?? entered.map { _ in 0 }
    }

    /// This collective's number on this rank (1-based).
    public var index: Int { entered[rank] }
    /// Seconds of silence after which a rank counts as stopped.
    public var silenceLimit: Double { min(5, max(2, timeout / 2)) }
    /// Ranks that never entered this collective, or fell silent inside it.
    public var missing: [Int] {
        entered.indices.filter { $0 != rank && (entered[$0] < index || silentFor[$0] < 0 || silentFor[$0] > silenceLimit) }
    }

    public var description: String {
        func secs(_ v: Double) -> String { v.rounded() == v ? String(Int(v)) : String(format: "%.1f", v) }
        var s = "\(operation) (collective #\(index) on rank \(rank)) did not complete within \(secs(timeout)) s: "
        if missing.isEmpty {
            s += "every rank had entered it and still answers, so the operation itself is stuck"
        } else {
            s += "rank(s) " + missing.map { r -> String in
                let heard = silentFor[r] < 0 ? "never heard from" : "silent for \(secs(silentFor[r])) s"
                return entered[r] < index ? "\(r) (last entered #\(entered[r]), \(heard))" : "\(r) (stopped inside it, \(heard))"
            }.joined(separator: ", ") + " stopped answering"
        }
        return s
    }
}

import Training

/// A group of one, for single-process runs and tests: every collective is the identity.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allReduceSum(_ buffer: inout [Double]) throws {}
    public func allReduceSum(_ buffer: inout [Int64]) throws {}
    public func allReduceMax(_ buffer: inout [Int64]) throws {}
    public func broadcast(_ buffer: inout [Float], root: Int) throws {}
    public func broadcast(bytes: inout [UInt8], root: Int) throws {}
    public func barrier() throws {}
    public var timeout: Double = 0
    public func abort(code: Int32) -> Never { exit(code) }
}

#if canImport(Glibc)
import Glibc
#endif
