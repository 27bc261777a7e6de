import Foundation

/// Where a step's time goes, as a Chrome trace (chrome://tracing, Perfetto): one track per
/// rank, one complete event per phase (data loading, encoder or cache read, g forward,
/// decoder, g backward, each all-reduce chunk, optimiser, checkpoint, evaluation), as
/// Horovod's timeline shows. A disabled timeline records nothing and costs one branch.
public final class Timeline {
    public struct Event: Codable, Equatable {
        public var name: String
        public var cat: String
        public var ph = "X"
        public var ts: Double      // µs since the timeline started
        public var dur: Double     // µs
        public var pid: Int        // the rank
        public var tid = 0
        public var args: [String: String]?
    }

    public let enabled: Bool
    public let rank: Int
    public private(set) var events: [Event] = []
    private let origin: Double

    public init(enabled: Bool, rank: Int, origin: Double = Timeline.now()) {
        self.enabled = enabled
        self.rank = rank
        self.origin = origin
    }

    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) / 1e3
    }

    /// Runs `body` as one event named `name` in category `category`.
    @discardableResult
    public func span<R>(_ name: String, _ category: String, args: [String: String]? = nil, _ body: () throws -> R) rethrows -> R {
        guard enabled else { return try body() }
        let t0 = Self.now()
        defer { events.append(Event(name: name, cat: category, ts: t0 - origin, dur: Self.now() - t0, pid: rank, args: args)) }
        return try body()
    }

    /// An event that did not run as one call on this thread (a gradient bucket on the wire
    /// while backward went on): from `start` to `end`, both `Timeline.now()` values.
    public func record(_ name: String, _ category: String, from start: Double, to end: Double, args: [String: String]? = nil) {
        guard enabled else { return }
        events.append(Event(name: name, cat: category, ts: start - origin, dur: end - start, pid: rank, args: args))
    }

    /// The events as the bytes of a JSON array.
    public func encoded() throws -> [UInt8] { Array(try JSONEncoder().encode(events)) }

    /// Every rank's events in one Chrome trace file written by rank 0, with a name per track.
    /// Each rank's events travel to the others by one broadcast per rank (a gather the
    /// communicator can express), so every rank takes part.
    public func write(to path: String, comm: Communicator) throws {
        var all: [Event] = []
        let mine = try encoded()
        var len = [Int64](repeating: 0, count: comm.size)
        len[comm.rank] = Int64(mine.count)
        try comm.allReduceSum(&len)
        for r in 0..<comm.size {
            var bytes = r == comm.rank ? mine : [UInt8](repeating: 0, count: Int(len[r]))
            try comm.broadcast(bytes: &bytes, root: r)
            if comm.isRoot { all += try JSONDecoder().decode([Event].self, from: Data(bytes)) }
        }
        guard comm.isRoot else { return }
        var trace: [[String: Any]] = (0..<comm.size).map {
            ["name": "process_name", "ph": "M", "pid": $0, "tid": 0, "args": ["name": "rank \($0)"]]
        }
        for e in all.sorted(by: { ($0.pid, $0.ts) < ($1.pid, $1.ts) }) {
            var d: [String: Any] = ["name": e.name, "cat": e.cat, "ph": e.ph, "ts": e.ts, "dur": e.dur, "pid": e.pid, "tid": e.tid]
            if let a = e.args { d["args"] = a }
            trace.append(d)
        }
        let data = try JSONSerialization.data(withJSONObject: ["traceEvents": trace, "displayTimeUnit": "ms"], options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
