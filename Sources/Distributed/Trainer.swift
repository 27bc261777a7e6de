import Datasets
import Foundation
import Network
import Training

/// Data-parallel AutoSAM training. Every rank holds the frozen SAM and a replica of g;
/// each global batch is split into contiguous shards, one per rank; gradients (one flat
/// buffer) are summed with one all-reduce and every rank applies the same Adam step. The
/// schedule (order, augmentation) is a pure function of (seed, epoch), so any rank count
/// sees the same batches and a resumed run continues where it stopped. Rank 0 alone
/// evaluates, logs and writes checkpoints.
///
/// BatchNorm in g forms its statistics over the whole global batch (SyncBatchNorm through
/// the communicator; the same code path with one rank), so the result does not depend on the
/// number of ranks beyond floating-point summation order. Batches are always full
/// (a shuffled epoch's remainder is dropped), and a batch must give every rank a sample.
public final class Trainer {
    public let config: TrainConfig
    let comm: Communicator
    public let model: AutoSAM
    let pipeline: SamplePipeline
    var adam: Adam
    public private(set) var trainSamples: [DatasetSample] = []
    public private(set) var validationSamples: [DatasetSample] = []
    public private(set) var epoch = 0
    public private(set) var step = 0
    public private(set) var best: Double?
    public private(set) var history: [[String: Double]] = []
    let out: (String) -> Void
    let progress: ProgressReporter

    /// g and SAM run on `context` (one per rank, made by the command from its options).
    public init(config: TrainConfig, comm: Communicator, context: ExecutionContext, resume: String? = nil,
                print out: @escaping (String) -> Void = { print($0) }) throws {
        self.config = config
        self.comm = comm
        let emit: (String) -> Void = comm.isRoot ? out : { _ in }
        self.out = emit
        progress = ProgressReporter(enabled: comm.isRoot, emit: emit)
        var rng = SeededRNG(seed: config.train.seed)
        guard let variant = HarDNetVariant.named(config.generator.backbone) else {
            throw ConfigError(path: "config", problem: "generator.backbone: unknown HarDNet variant \(config.generator.backbone)")
        }
        let g = PromptGenerator(variant: variant, context: context, rng: &rng)
        g.buffers.statisticsReducer = CommunicatorReducer(comm)
        guard comm.size <= config.train.batchSize else {
            throw ConfigError(path: "config", problem: "train.batch_size \(config.train.batchSize) is smaller than the \(comm.size) ranks: every rank needs a share of each batch")
        }
        // Before SAM, so a bad file fails in seconds rather than after loading a large encoder.
        if let pre = config.generator.pretrained {
            do {
                let n = try g.load(try TorchCheckpoint(path: pre), layout: .hardnetBackbone, prefix: "")
                emit("generator: \(n) backbone tensors from \(pre)")
            } catch {
                // The mismatch list alone does not say which setting or backbone it was checked against.
                throw ConfigError(path: "config", problem: "generator.pretrained (for backbone \(variant.name)): \(error)")
            }
        }
        let sam = try SAM.load(config.model.sam, checkpoint: config.model.checkpoint, context: context)
        model = AutoSAM(sam: sam, generator: g, lossActivation: config.loss.activation)
        let cacheDir = config.output.cache
        pipeline = SamplePipeline(sam: sam, cache: try EmbeddingCache(directory: cacheDir),
                                  encoderID: try SamplePipeline.encoderID(kind: config.model.sam, checkpoint: config.model.checkpoint))
        adam = Adam(parameterCount: g.store.count, lr: config.train.lr, weightDecay: config.train.weightDecay)
        try loadData()
        if let resume { try restore(resume) }
        try synchroniseReplicas()
    }

    func loadData() throws {
        let split = try TrainingSplit.load(config)
        for w in split.warnings { out("warning: \(w)") }
        trainSamples = split.train
        validationSamples = split.validation
    }

    /// Rank 0's parameters and statistics go to every rank, so replicas start identical.
    func synchroniseReplicas() throws {
        guard comm.size > 1 else { return }
        var p = model.generator.store.values
        try comm.broadcast(&p, root: 0)
        model.generator.store.setFlatValues(p)
        var b = model.generator.buffers.flatValues
        try comm.broadcast(&b, root: 0)
        try model.generator.buffers.setFlatValues(b)
    }

    /// The epoch's sample order: a seeded shuffle of the training set.
    func order(epoch: Int) -> [Int] {
        var idx = Array(trainSamples.indices)
        var rng = SeededRNG(seed: config.train.seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        idx.shuffle(using: &rng)
        return idx
    }

    /// The augmentation of sample i in an epoch: one of `variants` fixed variants per image,
    /// so their embeddings can be cached.
    func augmentation(epoch: Int, index: Int) -> AugmentationParams {
        guard config.augment.enabled else { return .identity }
        var rng = SeededRNG(seed: config.train.seed ^ (UInt64(epoch) << 32) ^ UInt64(index))
        let v = Int(rng.next() % UInt64(config.augment.variants))
        return Augmentation.params(seed: config.train.seed &+ UInt64(v) &* 7919, epoch: 0, index: index)
    }

    /// This rank's contiguous share of a global batch.
    func shard(_ batch: ArraySlice<Int>) -> ArraySlice<Int> {
        let n = batch.count, r = comm.rank, s = comm.size
        let lo = batch.startIndex + n * r / s, hi = batch.startIndex + n * (r + 1) / s
        return batch[lo..<hi]
    }

    public func run() throws {
        let cfg = config.train
        try FileManager.default.createDirectory(atPath: config.output.dir, withIntermediateDirectories: true)
        out("training \(config.generator.backbone) g (\(model.generator.store.count) parameters) on \(trainSamples.count) images, "
            + "validating on \(validationSamples.count); \(comm.size) rank(s), batch \(cfg.batchSize) × accumulate \(cfg.accumulate)")
        if epoch == 0, comm.isRoot, !validationSamples.isEmpty {
            let v = try validate()
            out("epoch 0 (initial): validation Dice \(fmt(v.dice)) IoU \(fmt(v.iou))")
            history.append(["epoch": 0, "val_dice": v.dice, "val_iou": v.iou])
            try appendMetrics(history.last!)
        }
        while epoch < cfg.epochs {
            let t0 = Date()
            let ord = order(epoch: epoch)
            // Full batches only: the global batch, and so each rank's share, is the same for any rank count.
            let batches = stride(from: 0, to: ord.count - cfg.batchSize + 1, by: cfg.batchSize).map { ord[$0..<($0 + cfg.batchSize)] }
            var sums = [Double](repeating: 0, count: 3)   // loss·n, dice·n, n
            progress.start(total: ord.count / cfg.batchSize * cfg.batchSize, label: "epoch \(epoch + 1)/\(cfg.epochs)")
            var seen = 0
            guard !batches.isEmpty else {
                throw ConfigError(path: "config", problem: "the training set (\(ord.count) images) is smaller than one batch (\(cfg.batchSize))")
            }
            for (bi, batch) in batches.enumerated() {
                let mine = shard(batch)
                if !mine.isEmpty {
                    let prepared = try mine.map { try pipeline.prepare(trainSamples[$0], augmentation: augmentation(epoch: epoch, index: $0)) }
                    let b = pipeline.batch(prepared)
                    let r = try model.trainStep(images: b.images, embeddings: b.embeddings, targets: b.targets,
                                                weight: Double(mine.count) / Double(batch.count))
                    sums[0] += r.loss * Double(mine.count)
                    sums[1] += trainDice(r.logits, b.targets) * Double(mine.count)
                    sums[2] += Double(mine.count)
                }
                seen += batch.count
                if (bi + 1) % cfg.accumulate == 0 || bi == batches.count - 1 {
                    try applyStep(accumulated: (bi % cfg.accumulate) + 1)
                }
                progress.update(done: seen, extra: sums[2] > 0 ? "loss \(fmt(sums[0] / sums[2]))" : "")
            }
            try comm.allReduceSum(&sums)
            epoch += 1
            let secs = Date().timeIntervalSince(t0)
            var row: [String: Double] = ["epoch": Double(epoch), "step": Double(step), "train_loss": sums[0] / sums[2],
                                         "train_dice": sums[1] / sums[2], "seconds": secs,
                                         "images_per_s": Double(seen) / secs]
            if comm.isRoot {
                progress.finish()
                if !validationSamples.isEmpty {
                    let v = try validate()
                    row["val_dice"] = v.dice
                    row["val_iou"] = v.iou
                }
                history.append(row)
                try appendMetrics(row)
                out(summary(row))
                if let vd = row["val_dice"], vd > (best ?? -1) {
                    best = vd
                    try checkpoint().write(to: config.output.dir + "/best.ckpt")
                }
                if epoch % config.output.checkpointEvery == 0 || epoch == cfg.epochs {
                    try checkpoint().write(to: config.output.dir + "/last.ckpt")
                }
            }
            try comm.barrier()
        }
    }

    /// All-reduce the accumulated gradients, take one Adam step, average BN statistics.
    func applyStep(accumulated: Int) throws {
        let store = model.generator.store
        if comm.size > 1 { try comm.allReduceSum(&store.grads) }
        store.withMutableValues { adam.update(&$0, grads: store.grads, gradScale: 1 / Float(accumulated)) }
        store.zeroGrads()
        step += 1
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

    public func validate() throws -> (dice: Double, iou: Double) {
        let scores = try Evaluator(model: model, pipeline: pipeline, batchSize: config.train.batchSize).evaluate(validationSamples)
        let n = Double(max(scores.count, 1))
        return (scores.map(\.dice).reduce(0, +) / n, scores.map(\.iou).reduce(0, +) / n)
    }

    func summary(_ r: [String: Double]) -> String {
        var s = "epoch \(Int(r["epoch"]!)): loss \(fmt(r["train_loss"]!)) train Dice \(fmt(r["train_dice"]!))"
        if let v = r["val_dice"] { s += " | validation Dice \(fmt(v)) IoU \(fmt(r["val_iou"]!))" }
        s += " | \(fmt(r["images_per_s"]!)) images/s, \(fmt(r["seconds"]!, 1)) s"
        return s
    }

    func appendMetrics(_ row: [String: Double]) throws {
        let path = config.output.dir + "/metrics.jsonl"
        let line = String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self) + "\n"
        if let h = FileHandle(forWritingAtPath: path) {
            h.seekToEndOfFile()
            h.write(Data(line.utf8))
            try h.close()
        } else {
            try Data(line.utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    public func checkpoint() throws -> TrainingCheckpoint {
        try TrainingCheckpoint(generator: model.generator, config: config, adam: adam, epoch: epoch, step: step,
                               bestValidationDice: best, history: history)
    }

    func restore(_ path: String) throws {
        let ck = try TrainingCheckpoint.read(path)
        let g = model.generator
        guard ck.header.backbone == config.generator.backbone,
              ck.header.parameters.map(\.name) == g.store.parameters.map(\.name),
              ck.header.parameters.map(\.shape) == g.store.parameters.map(\.shape) else {
            throw FileError(path: path, problem: "checkpoint holds a \(ck.header.backbone) generator with other parameters than this config's \(config.generator.backbone)")
        }
        g.store.setFlatValues(ck.parameters)
        try model.generator.buffers.setFlatValues(ck.buffers)
        adam.restore(step: ck.header.adam.step, m: ck.adamM, v: ck.adamV)
        epoch = ck.header.epoch
        step = ck.header.step
        best = ck.header.bestValidationDice
        history = ck.header.history
        out("resumed from \(path) after epoch \(epoch) (step \(step))")
    }
}
