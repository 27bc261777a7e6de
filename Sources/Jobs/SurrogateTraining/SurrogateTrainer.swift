import Datasets
import Foundation
import Network
import Training

/// Settings of `train-h` (defaults: the paper's — batch 24, Adam 3e-4, weight decay 1e-5,
/// at most 60 iterations).
public struct SurrogateOptions: Sendable {
    public var iterations = 60
    public var batchSize = 24
    public var lr: Float = 3e-4
    public var weightDecay: Float = 1e-5
    /// Seeds h's initialisation and the batch sampling; nil: the config's train.seed.
    public var seed: UInt64?
    /// Overrides the config's data.train (the folder of training image/mask pairs).
    public var data: String?
    /// Where the h checkpoint goes.
    public var output = "runs/demo/h.ckpt"
    /// Images per g forward pass when filling the cache and when validating.
    public var generatorBatch = 8
    public init() {}
}

/// Trains the surrogate decoder h on a frozen g:
/// loss = BCE + soft Dice (the config's activation) between h(g(I)) [1×256×256] and the
/// ground truth resized with nearest neighbour to the same 256² frame SAM's low-res logits
/// use. g runs in evaluation mode (BatchNorm running statistics) and gets no gradients, so
/// g(I) depends only on the image: it is computed once per image and kept in memory
/// (4 MiB per image). Images are not augmented (the cached g output is of the plain image).
/// Batches are drawn from the config's training split (the same split `train` used) by a
/// seeded shuffle, reshuffled each pass, so every image is used equally often.
public final class SurrogateTrainer {
    public let config: TrainConfig
    public let model: SurrogateModel
    public let options: SurrogateOptions
    public let generatorReference: TrainingCheckpoint.GeneratorReference
    public let trainSamples: [DatasetSample]
    public let validationSamples: [DatasetSample]
    public private(set) var adam: Adam
    public private(set) var step = 0
    /// One row per iteration: iteration, loss, bce, dice_loss; then val_dice, val_iou.
    public private(set) var history: [[String: Double]] = []
    public private(set) var validationDice: Double?
    /// Images whose g output has been computed (each exactly once).
    public private(set) var generatorRuns = 0

    struct Cached { var z: [Float]; var target: [Float] }
    var cache: [Int: Cached] = [:]
    var sampler: SeededRNG
    var order: [Int] = []
    var position = 0
    let out: (String) -> Void

    /// Loads g from an AutoSAM training checkpoint (no SAM needed) and initialises h; both run
    /// on `context`.
    public init(generatorCheckpoint path: String, options: SurrogateOptions, context: ExecutionContext,
                print out: @escaping (String) -> Void = { print($0) }) throws {
        precondition(options.iterations >= 0 && options.batchSize >= 1, "SurrogateTrainer: bad options")
        let loaded = try TrainedModel.loadGenerator(path, context: context)
        var cfg = loaded.config
        let g = loaded.generator
        // h explains what g writes from the image alone; SAM is not loaded here.
        if g.readsEmbedding {
            throw FileError(path: path, problem: "this g reads SAM's image embedding (generator.input: \(cfg.generator.input.rawValue)); train-h trains h on a g that reads the image only")
        }
        if let d = options.data { cfg.data.train = d }
        let seed = options.seed ?? cfg.train.seed
        var rng = SeededRNG(seed: seed)
        let h = SurrogateDecoder(context: context, rng: &rng)
        config = cfg
        model = SurrogateModel(config: cfg, generator: g, decoder: h)
        self.options = options
        generatorReference = .init(path: path, hash: SurrogateCheckpoint.hash(g))
        let split = try TrainingSplit.load(cfg)
        for w in split.warnings { out("warning: \(w)") }
        trainSamples = split.train
        validationSamples = split.validation
        adam = Adam(parameterCount: h.store.count, lr: options.lr, weightDecay: options.weightDecay)
        sampler = SeededRNG(seed: seed ^ 0x5A77_0DEC_0DE5_0001)
        self.out = out
    }

    /// The batch size actually used: the option, capped at the training set's size (so a
    /// batch never holds the same image twice).
    public var effectiveBatch: Int { min(options.batchSize, trainSamples.count) }

    /// The next batch of training-set indices: successive slices of seeded shuffles. A batch
    /// that straddles two passes takes, from the new pass, only images it does not hold yet
    /// (swapping them forward), so every image is drawn once per pass.
    public func nextBatch() -> [Int] {
        var batch: [Int] = []
        while batch.count < effectiveBatch {
            if position == order.count {
                order = Array(trainSamples.indices)
                order.shuffle(using: &sampler)
                position = 0
            }
            if batch.contains(order[position]),
               let j = order[(position + 1)...].firstIndex(where: { !batch.contains($0) }) {
                order.swapAt(position, j)
            }
            batch.append(order[position])
            position += 1
        }
        return batch
    }

    /// g's outputs [b, 256, 64, 64] and the targets [b, 1, 256, 256] for training indices,
    /// running g (eval mode) only on images not seen before.
    func inputs(_ indices: [Int]) throws -> (z: Tensor, targets: Tensor) {
        let missing = Array(Set(indices.filter { cache[$0] == nil })).sorted()
        var i = 0
        while i < missing.count {
            let chunk = Array(missing[i..<min(i + options.generatorBatch, missing.count)])
            let prepared = try chunk.map {
                try GeneratorInput.prepare(trainSamples[$0], kind: config.model.sam, lowRes: model.lowRes)
            }
            let z = try model.embed(images: GeneratorInput.batch(prepared, config: config))
            let per = z.count / chunk.count
            for (j, idx) in chunk.enumerated() {
                cache[idx] = Cached(z: Array(z.data[(j * per)..<((j + 1) * per)]), target: prepared[j].target)
            }
            generatorRuns += chunk.count
            i += chunk.count
        }
        let c = model.generator.embeddingChannels, s = model.generator.outputSize, r = model.lowRes
        let items = indices.map { cache[$0]! }
        return (Tensor(shape: [indices.count, c, s, s], data: items.flatMap(\.z)),
                Tensor(shape: [indices.count, 1, r, r], data: items.flatMap(\.target)))
    }

    /// One Adam step of h on the given training indices; returns the batch's loss before the step.
    @discardableResult
    public func step(_ indices: [Int]) throws -> SegmentationLoss.Result {
        let (z, targets) = try inputs(indices)
        let h = model.decoder
        let (logits, cache) = try h.forward(z)
        let l = SegmentationLoss.bceDice(logits: logits, target: targets, activation: config.loss.activation)
        h.store.zeroGrads()
        try h.backwardParameters(l.gradient, cache)
        h.store.withMutableValues { adam.update(&$0, grads: h.store.grads) }
        h.store.zeroGrads()
        step += 1
        return l
    }

    /// Trains for `options.iterations`, prints progress, scores h(g(I)) on the validation
    /// split and writes the checkpoint. Returns the validation scores (empty without a split).
    @discardableResult
    public func run() throws -> [Evaluator.ImageScore] {
        let n = options.iterations
        out("training surrogate decoder h (\(model.decoder.store.count) parameters) on frozen \(config.generator.backbone) g: "
            + "\(trainSamples.count) training images, batch \(effectiveBatch), \(n) iterations, Adam lr \(options.lr) wd \(options.weightDecay), "
            + "loss BCE+Dice (\(config.loss.activation.rawValue))")
        let perImage = model.generator.embeddingChannels * model.generator.outputSize * model.generator.outputSize * 4
        let touched = min(trainSamples.count, n * effectiveBatch)
        out("g's outputs are kept in memory: up to \(touched * perImage >> 20) MiB for \(touched) image(s)")
        if effectiveBatch < options.batchSize {
            out("note: batch capped at the training set's \(trainSamples.count) images")
        }
        let t0 = Date()
        for it in stride(from: 1, through: n, by: 1) {
            let ti = Date()
            let before = generatorRuns
            let l = try step(nextBatch())
            history.append(["iteration": Double(it), "loss": l.loss, "bce": l.bce, "dice_loss": l.dice])
            let secs = Date().timeIntervalSince(ti)
            let fresh = generatorRuns - before
            out("iteration \(it)/\(n): loss \(fmt(l.loss)) (BCE \(fmt(l.bce)), Dice loss \(fmt(l.dice)))"
                + " | \(fmt(secs, 2)) s" + (fresh > 0 ? ", g run on \(fresh) new image(s)" : ""))
        }
        out("trained in \(fmt(Date().timeIntervalSince(t0), 1)) s; g ran once on each of \(generatorRuns) image(s)")
        var scores: [Evaluator.ImageScore] = []
        if validationSamples.isEmpty {
            out("no validation split in the config: validation Dice not computed")
        } else {
            scores = try SurrogateEvaluator(model: model, batchSize: options.generatorBatch).evaluate(validationSamples)
            let c = Double(scores.count)
            let dice = scores.map(\.dice).reduce(0, +) / c, iou = scores.map(\.iou).reduce(0, +) / c
            validationDice = dice
            history.append(["val_dice": dice, "val_iou": iou])
            out("validation (\(scores.count) images, original resolution): h(g(I)) Dice \(fmt(dice)) IoU \(fmt(iou))")
        }
        let dir = (options.output as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try checkpoint().write(to: options.output)
        out("saved h to \(options.output)")
        return scores
    }

    public func checkpoint() throws -> TrainingCheckpoint {
        let h = model.decoder
        let header = TrainingCheckpoint.Header(
            backbone: SurrogateCheckpoint.backbone, sam: config.model.sam.rawValue, epoch: 0, step: step,
            bestValidationDice: validationDice, configYAML: try config.yaml(),
            parameters: h.store.parameters.map { .init(name: $0.name, shape: $0.shape) },
            buffers: [],
            adam: .init(lr: adam.lr, beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weightDecay: adam.weightDecay, step: adam.step),
            history: history, generator: generatorReference)
        return TrainingCheckpoint(header: header, parameters: h.store.values, buffers: [], adamM: adam.m, adamV: adam.v)
    }
}
