import Network
import Training

/// Sums g's gradients over the ranks in buckets, PyTorch DDP's way: the flat gradient buffer is
/// cut at parameter boundaries into buckets in the order backward fills it (g's last layers
/// first: a 1 MB first bucket, then `bucketBytes` each), and with `overlap` a bucket's
/// all-reduce starts as soon as backward has accumulated all of its parameters, while the
/// layers before them are still being differentiated. Buckets start in index order on every
/// rank, whatever backward's order, and travel from a fusion buffer of their own (Horovod's),
/// so the gradient array is never touched by the network. The sums are the same bits with
/// overlap on or off: the same buckets are summed the same way, only sooner.
public final class GradientReducer {
    public struct Settings: Sendable {
        public var overlap: Bool
        public var bucketBytes: Int
        public var transport: GradientTransport
        public var compression: GradientCompression

        public init(overlap: Bool = true, bucketBytes: Int = 25 << 20, transport: GradientTransport = .ring,
                    compression: GradientCompression = .none) {
            self.overlap = overlap; self.bucketBytes = bucketBytes; self.transport = transport; self.compression = compression
        }

        public init(_ d: TrainConfig.DistributedSection) {
            self.init(overlap: d.overlap, bucketBytes: Int(d.bucketMB * 1_048_576), transport: d.allreduce, compression: d.compression)
        }
    }

    /// The first bucket's size: small, so the exchange starts right after the last layers.
    public static let firstBucketBytes = 1 << 20

    public let settings: Settings
    /// Flat ranges of the gradient buffer, in the order they are summed.
    public let buckets: [Range<Int>]
    let comm: Communicator
    let store: ParameterStore
    let timeline: Timeline
    /// Parameters of each bucket, and which bucket each parameter (by offset) belongs to.
    let members: [Int]
    let bucketOf: [Int: Int]
    let fusion: UnsafeMutableBufferPointer<Float>
    private var waiting: [Int] = []
    private var arrived: Set<Int> = []
    private var started = 0
    private var startedAt: [Double] = []
    private var reported: [Bool] = []
    private var failure: Error?

    public init(store: ParameterStore, comm: Communicator, settings: Settings, timeline: Timeline) {
        self.store = store
        self.comm = comm
        self.settings = settings
        self.timeline = timeline
        // At most 60 buckets, so each has a slot of the shim's 64 to itself.
        let layout = Self.layout(store.parameters, bucketBytes: max(settings.bucketBytes, store.count * 4 / 60 + 1))
        buckets = layout.map(\.range)
        members = layout.map(\.parameters.count)
        var of: [Int: Int] = [:]
        for (b, l) in layout.enumerated() { for p in l.parameters { of[p.offset] = b } }
        bucketOf = of
        fusion = .allocate(capacity: max(store.count, 1))
        reset()
    }

    deinit {
        store.gradientAccumulated = nil
        fusion.deallocate()
    }

    /// Buckets over `parameters` (registration order) in backward's order: from the last
    /// parameter towards the first, a bucket closing once it holds `firstBucketBytes` (the
    /// first) or `bucketBytes`. Each is one contiguous range of the flat buffer.
    public static func layout(_ parameters: [Parameter], bucketBytes: Int) -> [(range: Range<Int>, parameters: [Parameter])] {
        var out: [(range: Range<Int>, parameters: [Parameter])] = []
        var current: [Parameter] = [], bytes = 0
        func close() {
            guard let last = current.first, let first = current.last else { return }
            out.append((first.offset..<(last.offset + last.count), current))
            current = []; bytes = 0
        }
        for p in parameters.reversed() {
            current.append(p)
            bytes += p.count * 4
            if bytes >= (out.isEmpty ? min(firstBucketBytes, bucketBytes) : bucketBytes) { close() }
        }
        close()
        return out
    }

    var active: Bool { comm.size > 1 }

    /// Before the backward pass that completes a step's gradients: with `overlap`, buckets then
    /// start as that pass fills them. (Not before a pass whose gradients are thrown away.)
    public func armForBackward() {
        guard active, settings.overlap else { return }
        store.gradientAccumulated = { [unowned self] p in self.accumulated(p) }
    }

    private func accumulated(_ p: Parameter) {
        guard failure == nil, let b = bucketOf[p.offset] else { return }
        guard arrived.insert(p.offset).inserted else {
            // A bucket may already be on the wire without this second contribution.
            failure = GradientBucketError(problem: "\(p.name)'s gradient was accumulated twice in one backward pass, after its bucket could start: set distributed.overlap: false")
            return
        }
        waiting[b] -= 1
        do {
            while started < buckets.count && waiting[started] == 0 { try start(started) }
            try comm.progressGradientSums()
            noteCompleted()
        } catch {
            failure = error
        }
    }

    private func start(_ b: Int) throws {
        let r = buckets[b]
        store.grads.withUnsafeBufferPointer { g in
            _ = UnsafeMutableBufferPointer(rebasing: fusion[r]).initialize(from: g[r])
        }
        startedAt[b] = Timeline.now()
        started += 1
        try comm.startGradientSum(UnsafeMutableBufferPointer(rebasing: fusion[r]), slot: b,
                                  transport: settings.transport, compression: settings.compression)
    }

    /// Timeline events for buckets whose sums have arrived: from the start to when this rank saw it done.
    private func noteCompleted(all: Bool = false) {
        guard timeline.enabled else { return }
        for b in 0..<started where !reported[b] && (all || comm.gradientSumDone(slot: b)) {
            reported[b] = true
            let r = buckets[b]
            timeline.record("gradient all-reduce \(b + 1)/\(buckets.count)", "collective", from: startedAt[b], to: Timeline.now(),
                            args: ["floats": "\(r.count)", "offset": "\(r.lowerBound)", "overlapped": "\(settings.overlap)"])
        }
    }

    /// The step's gradients summed over the ranks, in `store.grads`: starts the buckets backward
    /// has not, waits for every one, and copies the sums back.
    public func reduce() throws {
        store.gradientAccumulated = nil
        defer { reset() }
        if let failure { throw failure }
        guard active else { return }
        while started < buckets.count { try start(started) }
        try timeline.span("waiting for gradient buckets", "collective") { try comm.finishGradientSums() }
        noteCompleted(all: true)
        store.grads.withUnsafeMutableBufferPointer { g in
            for r in buckets { _ = UnsafeMutableBufferPointer(rebasing: g[r]).update(fromContentsOf: fusion[r]) }
        }
    }

    private func reset() {
        waiting = members
        arrived.removeAll(keepingCapacity: true)
        started = 0
        startedAt = [Double](repeating: 0, count: buckets.count)
        reported = [Bool](repeating: false, count: buckets.count)
        failure = nil
    }
}

public struct GradientBucketError: Error, CustomStringConvertible {
    public let problem: String
    public var description: String { "gradient buckets: \(problem)" }
}
