import Datasets
import Foundation
import Network
import Training

/// Data-parallel AutoSAM training. Every rank holds the frozen SAM and a replica of g; each
/// global batch is split by the `ShardPlan` (rank r takes [n·r/s, n·(r+1)/s)); gradients are
/// summed in buckets overlapped with backward (`GradientReducer`) and every rank applies the
/// same Adam step. The
/// schedule (order, augmentation) is a pure function of (seed, epoch), so any rank count sees
/// the same batches, and a step checkpoint resumes exactly where it stopped. Rank 0 alone
/// evaluates, logs and writes checkpoints.
///
/// BatchNorm in g forms its statistics over the whole global batch (SyncBatchNorm through the
/// communicator; the same code path with one rank). The epoch's last, smaller batch is trained
/// (unless `train.drop_last`); a rank whose shard is empty runs a pass that contributes nothing
/// but takes part in every collective, so no rank waits for one that skipped.
public final class Trainer {
    public let config: TrainConfig
    let comm: Communicator
    public let model: AutoSAM
    let pipeline: SamplePipeline
    var adam: Adam
    let plan: ShardPlan
    let store: CheckpointStore
    let reducer: CommunicatorReducer
    /// The gradient all-reduce: buckets, overlapped with backward.
    let gradients: GradientReducer
    public let identity: RunIdentity
    public let timeline: Timeline
    public private(set) var trainSamples: [DatasetSample] = []
    public private(set) var validationSamples: [DatasetSample] = []
    public private(set) var epoch = 0
    public private(set) var step = 0
    /// Batches of the current epoch already trained, and the epoch's sums over them.
    public private(set) var position = TrainingCheckpoint.Position(epoch: 0, batch: 0, lossSum: 0, diceSum: 0, samples: 0, seconds: 0)
    public private(set) var best: Double?
    public private(set) var history: [[String: Double]] = []
    let maxSteps: Int?
    var stepLimit: Int?
    let tracePath: String?
    /// Called on every rank after each optimiser step's gradients are summed, before Adam
    /// (`verify` compares them there with a single-process reference).
    public var afterGradients: ((StepInputs) throws -> Void)?
    /// Off for `verify`: no checkpoints, no validation, only the steps.
    public var writesOutputs = true
    let out: (String) -> Void
    let progress: ProgressReporter
    var phase = "start-up"
    var lastTimedCheckpoint = Date()
    /// Whether `data.skip_bad`'s decoding pass has run (once per trainer).
    var checkedReadable = false
    /// Rank 0's TensorBoard scalars beside metrics.jsonl (opened when training starts).
    var events: TensorBoardWriter?

    /// One optimiser step's inputs, for `afterGradients`.
    public struct StepInputs {
        public var batches: [ArraySlice<Int>]
        public var epoch: Int
        public var lossSum: Double       // Σ loss·samples over the step's batches (global)
        public var samples: Int
        public var buffersBefore: [Float]
        public var parametersBefore: [Float]
    }

    /// `resume`: a checkpoint path, "auto" (the newest complete checkpoint in `output.dir`, or a
    /// fresh start when there is none) or nil. `maxSteps`: stop after that many optimiser steps
    /// in all, writing a step checkpoint there. `trace`: a Chrome-trace file to write at the end.
    /// g and SAM run on `context` (one per rank, made by the command from its options).
    public init(config: TrainConfig, comm: Communicator, context: ExecutionContext, resume: String? = nil, maxSteps: Int? = nil,
                trace: String? = nil, print out: @escaping (String) -> Void = { print($0) }) throws {
        self.config = config
        self.comm = comm
        let emit: (String) -> Void = comm.isRoot ? out : { _ in }
        self.out = emit
        self.maxSteps = maxSteps
        stepLimit = maxSteps
        tracePath = trace
        timeline = Timeline(enabled: trace != nil, rank: comm.rank)
        progress = ProgressReporter(enabled: comm.isRoot, emit: emit)
        plan = ShardPlan(ranks: comm.size)
        store = CheckpointStore(directory: config.output.dir, keep: config.output.keep)
        comm.timeout = config.distributed.timeoutS
        var rng = SeededRNG(seed: config.train.seed)
        guard comm.size <= config.train.batchSize else {
            throw ConfigError(path: "config", problem: "train.batch_size \(config.train.batchSize) is smaller than the \(comm.size) ranks: a global batch must be able to give every rank a sample (use at most \(config.train.batchSize) ranks)")
        }
        if config.distributed.deterministic && !(context.convolution is ReferenceConvBackend) {
            throw ConfigError(path: "config", problem: "distributed.deterministic needs the reference convolution engine (oneDNN's weight gradients depend on its thread count): leave --conv-engine unset or pass --conv-engine reference")
        }
        if config.distributed.deterministic && context.threads != 1 {
            throw ConfigError(path: "config", problem: "distributed.deterministic runs one compute thread per rank (OpenBLAS's results depend on its thread count; measured): leave --threads unset or pass --threads 1, and use more ranks for more cores")
        }
        let g = try config.makeGenerator(context: context, rng: &rng)
        let variant = g.backboneKind
        reducer = CommunicatorReducer(comm)
        g.buffers.statisticsReducer = reducer
        // Before SAM, so a bad file fails in seconds rather than after loading a large encoder.
        if let pre = config.generator.pretrained {
            do {
                let n = try g.load(try TorchCheckpoint(path: pre), layout: .imagenetBackbone, prefix: "")
                emit("generator: \(n) backbone tensors from \(pre)")
            } catch {
                // The mismatch list alone does not say which setting or backbone it was checked against.
                throw ConfigError(path: "config", problem: "generator.pretrained (for backbone \(variant.name)): \(error)")
            }
        }
        let samSHA256 = try SHA256.file(config.model.checkpoint)
        if let file = config.generator.initFrom {
            let expect = GeneratorImport.Expectation(variant: variant, sam: config.model.sam, samSHA256: samSHA256,
                                                     lossActivation: config.loss.activation, inputSize: config.generatorSide)
            let report = try GeneratorImport.load(file, into: g, expecting: expect)
            for w in report.warnings { emit("warning: \(w)") }
            emit("generator: \(report.tensors) tensors from \(file) (generator.init_from)")
        }
        let sam = try SAM.load(config.model.sam, checkpoint: config.model.checkpoint, context: context)
        model = AutoSAM(sam: sam, generator: g, lossActivation: config.loss.activation, generatorSide: config.generatorSide)
        pipeline = SamplePipeline(sam: sam, cache: try EmbeddingCache(directory: config.output.cache, precision: config.output.cachePrecision),
                                  encoderID: try SamplePipeline.encoderID(kind: config.model.sam, checkpoint: config.model.checkpoint)
                                      // The encoder's bits depend on the engine and thread count: the
                                      // batch-invariant mode reads only what its own path computed.
                                      + (config.distributed.deterministic ? ";computed=reference-1-thread" : ""),
                                  generatorSide: model.generatorSide)
        adam = Adam(parameterCount: g.store.count, lr: config.train.lr, weightDecay: config.train.weightDecay)
        gradients = GradientReducer(store: g.store, comm: comm, settings: .init(config.distributed), timeline: timeline)
        let split = try TrainingSplit.load(config)
        for w in split.warnings { emit("warning: \(w)") }
        trainSamples = split.train
        validationSamples = split.validation
        identity = RunIdentity(config: config, samSHA256: samSHA256,
                               manifest: try DatasetManifest(train: split.train, validation: split.validation))
        // Ranks that disagree on the config, SAM or data would issue different collectives:
        // compare those first, with one fixed-size collective.
        var settings = ContentHash()
        settings.update(try config.yaml())
        var sha = ContentHash()
        sha.update(identity.samSHA256)
        try ReplicaCheck.verify([.init("the config", settings), .init("the SAM weights", sha),
                                 .init("the dataset manifest", identity.manifest.digest)], comm: comm, when: "at start")
        if let resume { try restore(resume) }
        try synchroniseReplicas()
        try checkReplicas(when: "after rank 0's broadcast")
    }

    /// Rank 0's parameters and statistics go to every rank, so replicas start identical.
    func synchroniseReplicas() throws {
        guard comm.size > 1 else { return }
        var p = model.generator.store.values
        try comm.broadcast(&p, root: 0)
        model.generator.store.setFlatValues(p)
        try broadcastRunningStats()
    }

    /// Rank 0's BatchNorm running statistics on every rank.
    func broadcastRunningStats() throws {
        var b = model.generator.buffers.flatValues
        try comm.broadcast(&b, root: 0)
        try model.generator.buffers.setFlatValues(b)
    }

    /// Every rank must hold rank 0's parameters and running statistics.
    func checkReplicas(when: String) throws {
        guard comm.size > 1 else { return }
        var p = ContentHash(), b = ContentHash()
        p.update(model.generator.store.values)
        b.update(model.generator.buffers.flatValues)
        try ReplicaCheck.verify([.init("g's parameters", p), .init("g's BatchNorm running statistics", b)], comm: comm, when: when)
    }

    /// The epoch's sample order: a seeded shuffle of the training set.
    func order(epoch: Int) -> [Int] {
        var idx = Array(trainSamples.indices)
        var rng = SeededRNG(seed: config.train.seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        idx.shuffle(using: &rng)
        return idx
    }

    /// The epoch's global batches (the last may be smaller unless `train.drop_last`).
    public func batches(epoch: Int) -> [ArraySlice<Int>] {
        ShardPlan.batches(order(epoch: epoch), batchSize: config.train.batchSize, dropLast: config.train.dropLast)
    }

    /// The augmentation of sample i in an epoch: one of `variants` fixed variants per image,
    /// so their embeddings can be cached.
    func augmentation(epoch: Int, index: Int) -> AugmentationParams {
        guard config.augment.enabled else { return .identity }
        var rng = SeededRNG(seed: config.train.seed ^ (UInt64(epoch) << 32) ^ UInt64(index))
        return variant(Int(rng.next() % UInt64(config.augment.variants)), index: index)
    }

    /// Variant `v` of training sample `index`'s augmentation.
    func variant(_ v: Int, index: Int) -> AugmentationParams {
        Augmentation.params(seed: config.train.seed &+ UInt64(v) &* 7919, epoch: 0, index: index)
    }

    /// With `data.skip_bad`: decodes every pair once (spread over the ranks) and drops those
    /// that fail from both lists on every rank alike, naming each file, before the cache fill
    /// fixes each sample's place. (Discovery checks only file headers; a truncated JPEG or a
    /// mask of the wrong size shows only when decoded.)
    func dropUnreadable() throws {
        checkedReadable = true
        phase = "checking every image and mask (data.skip_bad)"
        let all = trainSamples + validationSamples
        var bad = [Double](repeating: 0, count: all.count)
        for k in stride(from: comm.rank, to: all.count, by: comm.size) {
            do { try pipeline.check(all[k]) } catch {
                bad[k] = 1
                FileHandle.standardError.write(Data("warning: skipping \(all[k].imagePath) (data.skip_bad): \(error)\n".utf8))
            }
        }
        try comm.allReduceSum(&bad)
        let dropped = bad.filter { $0 > 0 }.count
        guard dropped > 0 else { return }
        let nTrain = trainSamples.count
        trainSamples = trainSamples.indices.filter { bad[$0] == 0 }.map { trainSamples[$0] }
        validationSamples = validationSamples.indices.filter { bad[nTrain + $0] == 0 }.map { validationSamples[$0] }
        out("data.skip_bad: skipped \(dropped) unreadable pair(s) of \(all.count); training on \(trainSamples.count), validating on \(validationSamples.count)")
    }

    /// Encodes every embedding training and validation will read that the cache lacks, with
    /// the work dealt out over the ranks (item k to rank k mod N), so the encoder runs on
    /// every core before the first step instead of on one rank at a time inside it. The ranks
    /// compare counts every few items: one progress line for all, and no rank ever far ahead.
    func fillCache() throws {
        var items: [(sample: DatasetSample, augmentation: AugmentationParams)] = []
        for (i, s) in trainSamples.enumerated() {
            if config.augment.enabled {
                for v in 0..<config.augment.variants { items.append((s, variant(v, index: i))) }
            } else {
                items.append((s, .identity))
            }
        }
        items += validationSamples.map { ($0, .identity) }
        phase = "filling the embedding cache"
        // A round is one item per rank, so a rank waits at most one encoder pass for the others;
        // that pass is work, not a stall, and can outlast a short distributed.timeout_s (a
        // ViT-H image on one core), so the fill's collectives wait at least 10 minutes.
        let deadline = comm.timeout
        if deadline > 0 { comm.timeout = max(deadline, 600) }
        defer { comm.timeout = deadline }
        let round = comm.size, t0 = Date()
        var computed = 0.0, done = 0.0
        progress.start(total: items.count, label: "embedding cache")
        for lo in stride(from: 0, to: items.count, by: round) {
            var counts = [0.0, 0.0]
            try timeline.span("cache fill", "data") {
                for k in stride(from: lo + comm.rank, to: min(lo + round, items.count), by: comm.size) {
                    if try pipeline.fill(items[k].sample, augmentation: items[k].augmentation) { counts[0] += 1 }
                    counts[1] += 1
                }
            }
            try comm.allReduceSum(&counts)
            computed += counts[0]
            done += counts[1]
            progress.update(done: Int(done), extra: "\(Int(computed)) encoded")
        }
        progress.finish()
        if computed > 0 {
            let secs = Date().timeIntervalSince(t0)
            out("embedding cache: encoded \(Int(computed)) of \(items.count) in \(fmt(secs, 1)) s on \(comm.size) rank(s) "
                + "(\(fmt(computed / max(secs, 1e-9))) images/s), \(config.output.cachePrecision.rawValue), in \(config.output.cache)")
        }
    }

    /// Model inputs for samples `indices` of the training set in `epoch`.
    public func inputs(_ indices: ArraySlice<Int>, epoch: Int) throws -> (images: Tensor, embeddings: Tensor, targets: Tensor) {
        let prepared = try timeline.span("data + encoder/cache", "data", args: ["samples": "\(indices.count)"]) {
            try indices.map { try pipeline.prepare(trainSamples[$0], augmentation: augmentation(epoch: epoch, index: $0)) }
        }
        return pipeline.batch(prepared)
    }

    public func run() throws {
        do { try runEpochs() } catch {
            throw TrainingFailure(rank: comm.rank, epoch: position.epoch + 1, step: step, phase: phase, underlying: error)
        }
        if let tracePath {
            phase = "writing the trace"
            try timeline.write(to: tracePath, comm: comm)
            out("trace: \(tracePath) (\(timeline.events.count) events on rank 0)")
        }
    }

    /// Runs training for `steps` optimiser steps from where it stands (for `verify`).
    public func runSteps(_ steps: Int) throws {
        let saved = stepLimit
        stepLimit = step + steps
        defer { stepLimit = saved }
        try run()
    }

    func runEpochs() throws {
        let cfg = config.train
        try FileManager.default.createDirectory(atPath: config.output.dir, withIntermediateDirectories: true)
        let fresh = step == 0 && position.batch == 0 && epoch == 0
        if comm.isRoot && writesOutputs { events = try TensorBoardWriter(directory: config.output.dir, startStep: fresh ? 0 : step + 1) }
        let shards = plan.sizes(batchCount: cfg.batchSize).map(String.init).joined(separator: ",")
        out("training \(config.generator.backbone) g (\(model.generator.store.count) parameters) on \(trainSamples.count) images, "
            + "validating on \(validationSamples.count); \(comm.size) rank(s), batch \(cfg.batchSize) × accumulate \(cfg.accumulate)"
            + (comm.size > 1 ? " (shards \(shards))" : ""))
        if config.data.skipBad && !checkedReadable { try dropUnreadable() }
        if writesOutputs { try fillCache() }
        if step == 0, position.batch == 0, epoch == 0, writesOutputs, !validationSamples.isEmpty {
            phase = "initial validation"
            try recomputeBatchNormStatistics()
            let v = try timeline.span("validation", "evaluation") { try validate() }
            out("epoch 0 (initial): validation Dice \(fmt(v.dice)) IoU \(fmt(v.iou))")
            if comm.isRoot {
                history.append(["epoch": 0, "val_dice": v.dice, "val_iou": v.iou, "val_mae": v.mae])
                try appendMetrics(history.last!)
            }
        }
        while epoch < cfg.epochs {
            if try runEpoch() == .stopped { return }
        }
    }

    enum EpochEnd { case finished, stopped }

    func runEpoch() throws -> EpochEnd {
        let cfg = config.train
        let batches = self.batches(epoch: epoch)
        guard !batches.isEmpty else {
            throw ConfigError(path: "config", problem: "the training set (\(trainSamples.count) images) is smaller than one batch (\(cfg.batchSize)) and train.drop_last is set")
        }
        if position.epoch != epoch { position = .init(epoch: epoch, batch: 0, lossSum: 0, diceSum: 0, samples: 0, seconds: 0) }
        let t0 = Date().addingTimeInterval(-position.seconds)
        let total = batches.reduce(0) { $0 + $1.count }
        progress.start(total: total, label: "epoch \(epoch + 1)/\(cfg.epochs)")
        var stepBatches: [ArraySlice<Int>] = []
        var stepLoss = 0.0, stepSamples = 0
        var before: (params: [Float], buffers: [Float])?
        for bi in position.batch..<batches.count {
            let batch = batches[bi]
            if afterGradients != nil && before == nil {
                before = (model.generator.store.values, model.generator.buffers.flatValues)
            }
            let closesStep = (bi + 1) % cfg.accumulate == 0 || bi == batches.count - 1
            let sums = try trainBatch(batch, closesStep: closesStep)
            position.lossSum += sums[0]
            position.diceSum += sums[1]
            position.samples += Int(sums[2])
            stepBatches.append(batch)
            stepLoss += sums[0]
            stepSamples += Int(sums[2])
            if closesStep {
                try reduceGradients()
                if let check = afterGradients {
                    try check(StepInputs(batches: stepBatches, epoch: epoch, lossSum: stepLoss, samples: stepSamples,
                                         buffersBefore: before!.buffers, parametersBefore: before!.params))
                }
                optimiserStep(accumulated: stepBatches.count)
                let loss = stepLoss / Double(max(stepSamples, 1))
                if comm.isRoot && writesOutputs {
                    try appendLine(["step": Double(step), "epoch": Double(epoch + 1), "loss": loss, "samples": Double(stepSamples)],
                                   to: config.output.dir + "/steps.jsonl")
                    try events?.step(step, loss: loss, learningRate: Double(adam.lr),
                                     imagesPerSecond: Double(stepSamples) / max(Date().timeIntervalSince(t0) - position.seconds, 1e-9))
                }
                position.batch = bi + 1
                position.seconds = Date().timeIntervalSince(t0)
                stepBatches = []; stepLoss = 0; stepSamples = 0; before = nil
                if step % config.distributed.checkEvery == 0 { try checkReplicas(when: "at step \(step)") }
                if let m = stepLimit, step >= m {
                    progress.finish()
                    if writesOutputs {
                        try writeStepCheckpoint()
                        out("stopped after step \(step) (--max-steps); `--resume auto` continues from \(store.stepPath(step))")
                    }
                    return .stopped
                }
                if writesOutputs && stepCheckpointDue() { try writeStepCheckpoint() }
            }
            progress.update(done: position.samples, extra: position.samples > 0 ? "loss \(fmt(position.lossSum / Double(position.samples)))" : "")
        }
        epoch += 1
        let secs = Date().timeIntervalSince(t0)
        let n = Double(max(position.samples, 1))
        var row: [String: Double] = ["epoch": Double(epoch), "step": Double(step), "train_loss": position.lossSum / n,
                                     "train_dice": position.diceSum / n, "seconds": secs,
                                     "images_per_s": Double(position.samples) / max(secs, 1e-9)]
        position = .init(epoch: epoch, batch: 0, lossSum: 0, diceSum: 0, samples: 0, seconds: 0)
        progress.finish()
        if writesOutputs && !validationSamples.isEmpty {
            phase = "validation after epoch \(epoch)"
            try recomputeBatchNormStatistics()
            let v = try timeline.span("validation", "evaluation") { try validate() }
            row["val_dice"] = v.dice
            row["val_iou"] = v.iou
            row["val_mae"] = v.mae
        }
        if comm.isRoot && writesOutputs {
            history.append(row)
            try appendMetrics(row)
            out(summary(row))
            phase = "writing checkpoints after epoch \(epoch)"
            try timeline.span("checkpoint", "checkpoint") {
                if let vd = row["val_dice"], vd > (best ?? -1) {
                    best = vd
                    try checkpoint().write(to: store.best)
                }
                if epoch % config.output.checkpointEvery == 0 || epoch == config.train.epochs {
                    try checkpoint().write(to: store.last)
                }
            }
        }
        phase = "end-of-epoch barrier"
        try comm.barrier()
        return .finished
    }

    /// This rank's share of one global batch, forward and backward; returns the batch's global
    /// [Σ loss·n, Σ dice·n, n] (one small all-reduce, so every rank logs the same numbers).
    /// `closesStep`: this batch's backward completes the step's gradients, so their buckets
    /// may start while it runs.
    func trainBatch(_ batch: ArraySlice<Int>, closesStep: Bool) throws -> [Double] {
        if config.distributed.deterministic { return try trainBatchInvariant(batch) }
        let mine = plan.shard(batch, rank: comm.rank)
        var sums = [0.0, 0.0, 0.0]
        if mine.isEmpty {
            phase = "empty-shard pass"
            try timeline.span("empty shard (collectives only)", "compute") { try emptyShardPass() }
        } else {
            phase = "data loading"
            let b = try inputs(mine, epoch: epoch)
            phase = "g forward"
            let weight = Double(mine.count) / Double(batch.count)
            let (z, gc) = try timeline.span("g forward", "compute") { try model.generator.forward(b.images, embedding: model.generator.readsEmbedding ? b.embeddings : nil, training: true) }
            phase = "decoder"
            let (r, dz) = try timeline.span("decoder + loss", "compute") {
                try model.decoderStep(z: z, embeddings: b.embeddings, targets: b.targets, weight: weight)
            }
            phase = "g backward"
            if closesStep { gradients.armForBackward() }
            try timeline.span("g backward", "compute") { try model.generator.backward(dz, gc) }
            sums = [r.loss * Double(mine.count), trainDice(r.logits, b.targets) * Double(mine.count), Double(mine.count)]
        }
        phase = "batch loss all-reduce"
        try comm.allReduceSum(&sums)
        return sums
    }

    /// `trainBatch` in the batch-invariant mode: the same bits for any rank count.
    func trainBatchInvariant(_ batch: ArraySlice<Int>) throws -> [Double] {
        let mine = plan.shard(batch, rank: comm.rank)
        var inputs: BatchInvariantStep.Inputs?
        if !mine.isEmpty {
            phase = "data loading"
            let b = try self.inputs(mine, epoch: epoch)
            inputs = .init(images: b.images, embeddings: b.embeddings, targets: b.targets)
        }
        let r = try BatchInvariantStep.run(model: model, reducer: reducer, comm: comm, inputs: inputs,
                                           mine: plan.range(batchCount: batch.count, rank: comm.rank), batch: batch.count) { name, body in
            phase = name
            try timeline.span(name, name == "exact gradient sum" ? "collective" : "compute", body)
        }
        var rows: [Double] = []
        if let inputs, let logits = r.logits {
            for s in 0..<mine.count {
                rows += [r.losses[s], trainDice(logits.sample(s), inputs.targets.sample(s)), 1]
            }
        }
        phase = "batch loss all-reduce"
        reducer.sampleLayout = (plan.range(batchCount: batch.count, rank: comm.rank), batch.count)
        defer { reducer.sampleLayout = nil }
        return try reducer.sumInSampleOrder(rows, width: 3)
    }

    /// A rank with no samples in this batch still joins every SyncBatchNorm collective: it runs
    /// g on one blank image with its contribution to the statistics zeroed, and its gradients
    /// are put back as they were, so it adds nothing.
    func emptyShardPass() throws {
        let g = model.generator, side = pipeline.generatorSide
        let saved = g.store.grads
        reducer.contributes = false
        defer { reducer.contributes = true }
        let blank = g.blankInputs(side: side)
        let (z, gc) = try g.forward(blank.image, embedding: blank.embedding, training: true)
        try g.backward(Tensor(zeros: z.shape), gc)
        g.store.grads = saved
    }

    /// Sums the accumulated gradients over the ranks: the buckets backward has not started
    /// start now, and every one is waited for (`GradientReducer`).
    func reduceGradients() throws {
        guard comm.size > 1, !config.distributed.deterministic else { return }   // the exact sum already spans the ranks
        phase = "gradient all-reduce"
        try gradients.reduce()
    }

    /// One Adam step with the summed gradients (averaged over accumulated batches).
    func optimiserStep(accumulated: Int) {
        let store = model.generator.store
        phase = "optimiser"
        adam.lr = config.train.schedule.rate(base: config.train.lr, step: step, total: totalSteps,
                                             warmup: config.train.warmupSteps)
        timeline.span("Adam", "optimiser") {
            store.withMutableValues { adam.update(&$0, grads: store.grads, gradScale: 1 / Float(accumulated)) }
        }
        store.zeroGrads()
        step += 1
    }

    /// Optimiser steps in the whole run (what a cosine schedule decays over).
    var totalSteps: Int {
        let n = trainSamples.count, b = config.train.batchSize
        let batches = config.train.dropLast ? n / b : (n + b - 1) / b
        return config.train.epochs * ((batches + config.train.accumulate - 1) / config.train.accumulate)
    }

    func stepCheckpointDue() -> Bool {
        if let n = config.output.checkpointEverySteps, step % n == 0 { return true }
        if let m = config.output.checkpointEveryMinutes, Date().timeIntervalSince(lastTimedCheckpoint) >= m * 60 { return true }
        return false
    }

    /// Rank 0 writes `step-<n>.ckpt` (the others go on: every rank holds the same state).
    func writeStepCheckpoint() throws {
        lastTimedCheckpoint = Date()
        guard comm.isRoot else { return }
        phase = "writing the step checkpoint"
        try timeline.span("checkpoint", "checkpoint") { try store.writeStep(checkpoint()) }
    }

    func trainDice(_ logits: Tensor, _ targets: Tensor) -> Double {
        let b = logits.shape[0], per = logits.count / b
        var total = 0.0
        for i in 0..<b {
            let prob = Evaluator.probabilities(logits.data[(i * per)..<((i + 1) * per)], activation: model.lossActivation)
            let p = prob.map { UInt8($0 > 0.5 ? 1 : 0) }
            let t = targets.data[(i * per)..<((i + 1) * per)].map { UInt8($0) }
            total += Metrics.dice(p, t)
        }
        return total / Double(b)
    }

    /// `train.precise_bn_images` > 0: g's BatchNorm running statistics become the plain average
    /// of batch statistics over that many training images (PreciseBN), in batches of the global
    /// batch size. Every rank computes the same batches alone, so the result is one process's
    /// for any rank count; rank 0's then go to every rank, so replicas stay equal even where
    /// hosts round differently.
    func recomputeBatchNormStatistics() throws {
        let k = config.train.preciseBNImages
        guard k > 0 else { return }
        let chosen = PreciseBN.images(trainSamples, count: k, seed: config.train.seed)
        try timeline.span("PreciseBN statistics", "compute", args: ["images": "\(chosen.count)"]) {
            try PreciseBN.recompute(model.generator, pipeline: pipeline, samples: chosen, batchSize: config.train.batchSize)
        }
        guard comm.size > 1 else { return }
        phase = "PreciseBN statistics broadcast"
        try broadcastRunningStats()
    }

    /// Mean validation Dice and IoU, on every rank (call it on all of them). Batch c of the
    /// validation list goes to rank c mod N, so each image is scored in the same batch whatever
    /// the rank count; each score travels in its own slot (zeros elsewhere, so the sum is
    /// exact) and is added up in the list's order.
    public func validate() throws -> (dice: Double, iou: Double, mae: Double) {
        let evaluator = Evaluator(model: model, pipeline: pipeline, batchSize: config.train.batchSize)
        let n = validationSamples.count, b = config.train.batchSize
        var rows = [Double](repeating: 0, count: 3 * n)
        for (c, lo) in stride(from: 0, to: n, by: b).enumerated() where c % comm.size == comm.rank {
            for (j, score) in try evaluator.evaluate(Array(validationSamples[lo..<min(lo + b, n)])).enumerated() {
                rows.replaceSubrange(3 * (lo + j)..<3 * (lo + j + 1), with: [score.dice, score.iou, score.mae])
            }
        }
        try comm.allReduceSum(&rows)
        var sums = [0.0, 0.0, 0.0]
        for i in 0..<n { for k in 0..<3 { sums[k] += rows[3 * i + k] } }
        let m = Double(max(n, 1))
        return (sums[0] / m, sums[1] / m, sums[2] / m)
    }

    func summary(_ r: [String: Double]) -> String {
        var s = "epoch \(Int(r["epoch"]!)): loss \(fmt(r["train_loss"]!)) train Dice \(fmt(r["train_dice"]!))"
        if let v = r["val_dice"] { s += " | validation Dice \(fmt(v)) IoU \(fmt(r["val_iou"]!))" }
        s += " | \(fmt(r["images_per_s"]!)) images/s, \(fmt(r["seconds"]!, 1)) s"
        return s
    }

    func appendMetrics(_ row: [String: Double]) throws {
        try appendLine(row, to: config.output.dir + "/metrics.jsonl")
        try events?.epoch(row, step: step)
    }

    func appendLine(_ row: [String: Double], to path: String) throws {
        let line = String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self) + "\n"
        if let h = FileHandle(forWritingAtPath: path) {
            h.seekToEndOfFile()
            h.write(Data(line.utf8))
            try h.close()
        } else {
            try Data(line.utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    /// After a resume, drops the log lines of steps and epochs the resumed run will repeat.
    func truncateLogs() throws {
        guard comm.isRoot else { return }
        for (name, key, last) in [("steps.jsonl", "step", step), ("metrics.jsonl", "epoch", epoch)] {
            let path = config.output.dir + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let kept = text.split(separator: "\n").filter { line in
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Double],
                      let v = obj[key] else { return true }
                return Int(v) <= last
            }
            try AtomicFile.write(Data((kept.map { $0 + "\n" }.joined()).utf8), to: path)
        }
    }

    public func checkpoint() throws -> TrainingCheckpoint {
        try TrainingCheckpoint(generator: model.generator, config: config, adam: adam, epoch: epoch, step: step,
                               bestValidationDice: best, history: history,
                               position: position.batch > 0 ? position : nil, identity: identity, ranks: comm.size)
    }

    func restore(_ request: String) throws {
        let path: String, ck: TrainingCheckpoint
        if request == "auto" {
            guard let found = store.newestComplete() else {
                out("resume auto: no checkpoint in \(config.output.dir); starting fresh")
                return
            }
            for s in found.skipped { out("resume auto: skipped \(s)") }
            (path, ck) = (found.path, found.checkpoint)
        } else {
            path = request
            ck = try TrainingCheckpoint.read(path)
        }
        let g = model.generator
        guard ck.header.backbone == config.generator.backbone,
              ck.header.parameters.map(\.name) == g.store.parameters.map(\.name),
              ck.header.parameters.map(\.shape) == g.store.parameters.map(\.shape) else {
            throw FileError(path: path, problem: "checkpoint holds a \(ck.header.backbone) generator with other parameters than this config's \(config.generator.backbone)")
        }
        if let then = ck.header.identity {
            let diffs = then.differences(from: identity)
            guard diffs.isEmpty else {
                throw FileError(path: path, problem: "refusing to resume: this run differs from the one that wrote the checkpoint:\n  "
                                + diffs.joined(separator: "\n  "))
            }
        }
        g.store.setFlatValues(ck.parameters)
        try model.generator.buffers.setFlatValues(ck.buffers)
        adam.restore(step: ck.header.adam.step, m: ck.adamM, v: ck.adamV)
        epoch = ck.header.epoch
        step = ck.header.step
        best = ck.header.bestValidationDice
        history = ck.header.history
        if let p = ck.header.position { position = p } else { position = .init(epoch: epoch, batch: 0, lossSum: 0, diceSum: 0, samples: 0, seconds: 0) }
        let at = ck.header.position.map { "in epoch \($0.epoch + 1) after batch \($0.batch)" } ?? "after epoch \(epoch)"
        let ranks = ck.header.ranks.map { $0 != comm.size ? "; written by \($0) rank(s), now \(comm.size): equal up to summation order" : "" } ?? ""
        out("resumed from \(path) \(at) (step \(step))\(ranks)")
        try truncateLogs()
    }
}

/// An error on one rank during training, with where it happened.
public struct TrainingFailure: Error, CustomStringConvertible {
    public let rank: Int, epoch: Int, step: Int
    public let phase: String
    public let underlying: Error
    public var description: String { "rank \(rank), epoch \(epoch), step \(step + 1), \(phase): \(underlying)" }
}

