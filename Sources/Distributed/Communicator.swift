/// The group a rank trains in. Injected into everything that needs to talk to other
/// ranks, never global, so tests can run a trainer over a single-process group.
/// All ranks must call collectives in the same order.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// In-place elementwise sum over all ranks.
    func allReduceSum(_ buffer: inout [Float]) throws
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
}

public extension Communicator {
    var isRoot: Bool { rank == 0 }
}

public struct CommunicatorError: Error, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var description: String { "MPI \(operation) failed: \(message)" }
}

/// A collective that did not complete within the deadline. `entered[r]` is the newest count
/// of collectives entered that this rank heard from rank r (its own at its own index): the
/// ranks with a lower count than this rank's never reached this collective.
public struct CollectiveTimeout: Error, CustomStringConvertible {
    public let operation: String
    public let rank: Int
    public let timeout: Double
    public let entered: [Int]

    /// This collective's number on this rank (1-based).
    public var index: Int { entered[rank] }
    /// Ranks that had not entered this collective when the deadline passed.
    public var missing: [Int] { entered.indices.filter { entered[$0] < index } }

    public var description: String {
        let t = timeout.rounded() == timeout ? String(Int(timeout)) : String(timeout)
        var s = "\(operation) (collective #\(index) on rank \(rank)) did not complete within \(t) s: "
        if missing.isEmpty {
            s += "every rank had entered it, so a rank stalled inside it"
        } else {
            s += "rank(s) " + missing.map { "\($0) (last entered #\(entered[$0]))" }.joined(separator: ", ") + " never arrived"
        }
        return s
    }
}

/// A group of one, for single-process runs and tests: every collective is the identity.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: inout [Float]) throws {}
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
