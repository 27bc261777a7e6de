import Foundation
import Network
import Training

/// `bench dist`'s measurement on one rank of a group: the data-parallel training step the
/// trainer runs (g forward with SyncBatchNorm over the group, frozen mask decoder, BCE + Dice,
/// g backward with the gradient buckets it overlaps, the batch-loss all-reduce, Adam) on this rank's
/// shard of a seeded synthetic global batch, its embeddings precomputed (a warm cache). Times
/// the step, the gradient all-reduce and SyncBatchNorm's collectives separately; collective
/// time includes waiting for the slowest rank, which is what the step pays for it.
public enum DataParallelStepBenchmark {
    public struct Settings: Sendable {
        public var backbone: String
        public var batch: Int
        public var repeats: Int
        public var threads: Int
        /// The batch-invariant step (`distributed.deterministic`) instead of the default one.
        public var deterministic: Bool
        /// How the default step's gradients are summed (buckets, overlap, transport, compression).
        public var gradients: GradientReducer.Settings

        public init(backbone: String, batch: Int, repeats: Int, threads: Int, deterministic: Bool = false,
                    gradients: GradientReducer.Settings = .init()) {
            self.backbone = backbone; self.batch = batch; self.repeats = repeats; self.threads = threads
            self.deterministic = deterministic; self.gradients = gradients
        }
    }

    /// Sums through the group and keeps the time and bytes they took.
    final class TimedReducer: BatchStatisticsReducer {
        let inner: CommunicatorReducer
        var seconds = 0.0, calls = 0, bytes = 0
        init(_ inner: CommunicatorReducer) { self.inner = inner }
        func sum(_ values: inout [Double]) throws {
            let t0 = Timeline.now()
            try inner.sum(&values)
            seconds += (Timeline.now() - t0) / 1e6
            calls += 1
            bytes += values.count * 8
        }
        var keepsSampleOrder: Bool { inner.keepsSampleOrder }
        func sumInSampleOrder(_ rows: [Double], width: Int) throws -> [Double] {
            let t0 = Timeline.now()
            defer { seconds += (Timeline.now() - t0) / 1e6 }
            calls += 1
            bytes += (inner.sampleLayout?.batch ?? 1) * width * 8
            return try inner.sumInSampleOrder(rows, width: width)
        }
    }

    /// Every rank runs this; rank 0 returns the row (others nil). Step time is rank 0's wall
    /// time from a barrier to the step's end (the last collective holds it to the slowest rank).
    public static func measure(sam: SAM, comm: Communicator, _ s: Settings) throws -> [String: Any]? {
        guard let variant = GeneratorBackbone.named(s.backbone) else { throw BenchmarkError("unknown backbone \(s.backbone)") }
        guard comm.size <= s.batch else { throw BenchmarkError("batch \(s.batch) is smaller than the \(comm.size) ranks") }
        var rng = SeededRNG(seed: 5)
        let g = PromptGenerator(backbone: variant, context: sam.context, rng: &rng)
        let reducer = TimedReducer(CommunicatorReducer(comm))
        g.buffers.statisticsReducer = reducer
        let model = AutoSAM(sam: sam, generator: g)
        var adam = Adam(parameterCount: g.store.count, lr: 3e-4, weightDecay: 1e-5)
        let gradients = GradientReducer(store: g.store, comm: comm, settings: s.gradients, timeline: Timeline(enabled: false, rank: comm.rank))

        // The same global batch on every rank; each keeps its shard.
        let side = model.generatorSide, b = s.batch
        let all = Tensor.uniform([b, 3, side, side], rng: &rng, lo: 0, hi: 1)
        let mine = ShardPlan(ranks: comm.size).range(batchCount: b, rank: comm.rank)
        let images = all.samples(mine)
        let targets = Tensor(shape: [mine.count, 1, 256, 256], data: (0..<(mine.count * 65536)).map {
            let y = ($0 % 65536) / 256 - 128, x = $0 % 256 - 128 + ($0 / 65536 + mine.lowerBound) * 7
            return Float(x * x + y * y < 60 * 60 ? 1 : 0)
        })
        let embeddings = try sam.imageEncoder(images)
        let weight = Double(mine.count) / Double(b)

        var stepTimes: [Double] = [], reduceTimes: [Double] = [], syncBNTimes: [Double] = [], lossReduceTimes: [Double] = []
        for i in 0...s.repeats {
            try comm.barrier()
            reducer.seconds = 0
            let t0 = Timeline.now()
            var t1 = 0.0, t2 = 0.0
            var sums: [Double]
            if s.deterministic {
                // The exact gradient sum is this mode's gradient all-reduce.
                let r = try BatchInvariantStep.run(model: model, reducer: reducer.inner, comm: comm,
                                                   inputs: .init(images: images, embeddings: embeddings, targets: targets),
                                                   mine: mine, batch: b) { name, body in
                    if name == "exact gradient sum" { t1 = Timeline.now() }
                    try body()
                    if name == "exact gradient sum" { t2 = Timeline.now() }
                }
                reducer.inner.sampleLayout = (mine, b)
                sums = try reducer.inner.sumInSampleOrder(r.losses.flatMap { [$0, 0, 1] }, width: 3)
                reducer.inner.sampleLayout = nil
            } else {
                gradients.armForBackward()
                let r = try model.trainStep(images: images, embeddings: embeddings, targets: targets, weight: weight)
                t1 = Timeline.now()
                try gradients.reduce()   // with overlap: what backward did not hide
                t2 = Timeline.now()
                sums = [r.loss * Double(mine.count), 0, Double(mine.count)]
                try comm.allReduceSum(&sums)
            }
            _ = sums
            let t3 = Timeline.now()
            g.store.withMutableValues { adam.update(&$0, grads: g.store.grads) }
            g.store.zeroGrads()
            let t4 = Timeline.now()
            guard i > 0 else { continue }   // the first step warms up
            stepTimes.append((t4 - t0) / 1e6)
            reduceTimes.append((t2 - t1) / 1e6)
            lossReduceTimes.append((t3 - t2) / 1e6)
            syncBNTimes.append(reducer.seconds)
        }
        let step = median(stepTimes), reduce = median(reduceTimes), syncBN = median(syncBNTimes)
        // Every rank's shares: the largest includes waiting for the slowest rank; the smallest
        // (the last rank to arrive) is close to the collectives' own cost.
        var shares = [Double](repeating: 0, count: 2 * comm.size)
        shares[comm.rank] = reduce / step
        shares[comm.size + comm.rank] = syncBN / step
        try comm.allReduceSum(&shares)
        guard comm.isRoot else { return nil }
        let reduceShares = Array(shares[0..<comm.size]), syncBNShares = Array(shares[comm.size...])
        let wire = s.deterministic ? 8 : s.gradients.compression == .none ? 4 : 2
        return ["name": s.deterministic ? "dp_step_deterministic" : "dp_step", "engine": "swift", "ranks": comm.size, "threads": s.threads, "batch": b,
                "overlap": !s.deterministic && s.gradients.overlap, "allreduce": s.deterministic ? "exact-int64" : s.gradients.transport.rawValue,
                "compression": s.deterministic ? "none" : s.gradients.compression.rawValue, "buckets": gradients.buckets.count,
                "backbone": s.backbone, "repeats": s.repeats, "seconds": step, "images_per_s": Double(b) / step,
                "allreduce_s": reduce, "allreduce_share": reduceShares.max() ?? 0, "allreduce_share_min": reduceShares.min() ?? 0,
                "allreduce_mb": Double(g.store.grads.count * wire) / 1e6,
                "syncbn_s": syncBN, "syncbn_share": syncBNShares.max() ?? 0, "syncbn_share_min": syncBNShares.min() ?? 0,
                "syncbn_collectives": reducer.calls / (s.repeats + 1), "syncbn_kb": Double(reducer.bytes) / Double(s.repeats + 1) / 1e3,
                "loss_allreduce_s": median(lossReduceTimes), "shard_sizes": ShardPlan(ranks: comm.size).sizes(batchCount: b)]
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

public struct BenchmarkError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
