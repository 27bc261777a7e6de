import Foundation
import Network
import Training

/// `verify`: runs the first steps of a data-parallel training run and, at each, has rank 0
/// compute the same global batch alone through the single-process path (a second g with the
/// same parameters and statistics, BatchNorm over the whole batch). It compares the summed
/// gradient, the BatchNorm running-statistics update and the loss: the worst relative
/// difference max|Δ| / max|reference| per tensor. What a user runs on a new cluster before a
/// long job.
public final class DataParallelVerifier {
    public struct StepReport: Sendable {
        public var step: Int
        public var shards: [Int]
        public var gradient: (worst: Double, tensor: String)
        public var statistics: (worst: Double, tensor: String)
        public var loss: Double
        public var vanishingGradients: Int
        /// Within both tolerances.
        public func passes(tolerance: Double, gradientTolerance: Double) -> Bool {
            gradient.worst <= gradientTolerance && statistics.worst <= tolerance && loss <= tolerance
        }
    }

    public let trainer: Trainer
    let comm: Communicator
    let reference: AutoSAM?
    var referenceReducer: CommunicatorReducer?
    let deterministic: Bool
    public let tolerance: Double
    public let gradientTolerance: Double
    public private(set) var reports: [StepReport] = []
    let out: (String) -> Void

    /// `tolerance` bounds the loss and the BatchNorm statistics; `gradientTolerance` the
    /// gradients. They differ because float32 rounding that depends on the shard size (OpenBLAS
    /// picks other kernels for other matrix sizes in the mask decoder; oneDNN for other batch
    /// sizes) is ~1e-7 on each value, and BatchNorm's backward amplifies it where Σ dy cancels:
    /// measured up to 5.0e-3 on BatchNorm weights and biases of HarDNet-39DS (1–4 ranks), while
    /// the loss and the statistics stay within 1.1e-7 and 6.9e-7.
    public init(config: TrainConfig, comm: Communicator, context: ExecutionContext, tolerance: Double, gradientTolerance: Double,
                print out: @escaping (String) -> Void = { print($0) }) throws {
        self.comm = comm
        self.tolerance = tolerance
        self.gradientTolerance = gradientTolerance
        deterministic = config.distributed.deterministic
        self.out = comm.isRoot ? out : { _ in }
        trainer = try Trainer(config: config, comm: comm, context: context, print: out)
        trainer.writesOutputs = false
        if comm.isRoot {
            var rng = SeededRNG(seed: config.train.seed)
            let g = try config.makeGenerator(context: context, rng: &rng)
            referenceReducer = CommunicatorReducer(SingleProcessCommunicator())
            g.buffers.statisticsReducer = referenceReducer
            reference = AutoSAM(sam: trainer.model.sam, generator: g, lossActivation: config.loss.activation,
                                generatorSide: trainer.model.generatorSide)
        } else {
            reference = nil
        }
        trainer.afterGradients = { [unowned self] inputs in try self.check(inputs) }
    }

    /// Runs `steps` optimiser steps; true when every difference is within the tolerance (the
    /// same verdict on every rank).
    public func run(steps: Int) throws -> Bool {
        try trainer.runSteps(steps)
        var failed: [Int64] = [reports.contains { !$0.passes(tolerance: tolerance, gradientTolerance: gradientTolerance) } ? 1 : 0]
        try comm.allReduceMax(&failed)
        let g = reports.map(\.gradient.worst).max() ?? 0
        let s = max(reports.map(\.statistics.worst).max() ?? 0, reports.map(\.loss).max() ?? 0)
        out("verify: \(reports.count) step(s) on \(comm.size) rank(s); worst relative difference: gradients \(sci(g)) "
            + "(tolerance \(sci(gradientTolerance))), loss and BatchNorm statistics \(sci(s)) (tolerance \(sci(tolerance))): "
            + (failed[0] == 0 ? "PASSED" : "FAILED"))
        return failed[0] == 0
    }

    func check(_ s: Trainer.StepInputs) throws {
        guard let reference else { return }
        let ref = reference.generator, dist = trainer.model.generator
        ref.store.setFlatValues(s.parametersBefore)
        try ref.buffers.setFlatValues(s.buffersBefore)
        ref.store.zeroGrads()
        var lossSum = 0.0, n = 0
        for batch in s.batches {
            let b = try trainer.inputs(batch, epoch: s.epoch)
            if deterministic, let reducer = referenceReducer {
                let r = try BatchInvariantStep.run(model: reference, reducer: reducer, comm: SingleProcessCommunicator(),
                                                   inputs: .init(images: b.images, embeddings: b.embeddings, targets: b.targets),
                                                   mine: 0..<batch.count, batch: batch.count)
                lossSum += SyncBatchNorm2D.sumRows(r.losses, width: 1)[0]
            } else {
                let r = try reference.trainStep(images: b.images, embeddings: b.embeddings, targets: b.targets, weight: 1)
                lossSum += r.loss * Double(batch.count)
            }
            n += batch.count
        }
        // A gradient that vanishes in exact arithmetic (a bias just before a BatchNorm, which
        // removes any per-channel shift) is float32 rounding in both runs; its difference is
        // measured against the largest gradient of the model instead of its own noise.
        let gradients = dist.store.parameters.map { p in (p.name, Array(dist.store.grads[p.range]), Array(ref.store.grads[p.range])) }
        let largest = gradients.map { $0.2.map { Double(abs($0)) }.max() ?? 0 }.max() ?? 0
        var gw = (0.0, ""), sw = (0.0, ""), vanishing = 0
        for (name, got, want) in gradients {
            let scale = want.map { Double(abs($0)) }.max() ?? 0
            let floor = Self.vanishingShare * largest
            let vanishes = scale < floor
            if vanishes { vanishing += 1 }
            let e = Self.maxAbsDifference(got, want) / max(vanishes ? largest : scale, 1e-30)
            if e > gw.0 || gw.1.isEmpty { gw = (e, name) }
        }
        let refAfter = ref.buffers.named.map(\.values)
        var off = 0
        let start = s.buffersBefore
        for (i, (name, now)) in dist.buffers.named.enumerated() {
            let was = Array(start[off..<(off + now.count)])
            let e = Self.relative(zip(now, was).map { $0 - $1 }, zip(refAfter[i], was).map { $0 - $1 })
            if e > sw.0 || sw.1.isEmpty { sw = (e, name) }
            off += now.count
        }
        let lossDist = s.lossSum / Double(max(s.samples, 1)), lossRef = lossSum / Double(max(n, 1))
        let le = abs(lossDist - lossRef) / max(abs(lossRef), 1e-30)
        let shards = s.batches.map { ShardPlan(ranks: comm.size).sizes(batchCount: $0.count) }
        let report = StepReport(step: trainer.step + 1, shards: shards.last ?? [], gradient: gw, statistics: sw, loss: le,
                                vanishingGradients: vanishing)
        reports.append(report)
        out("step \(report.step) (batch \(s.samples), shards \(report.shards.map(String.init).joined(separator: ","))): "
            + "gradient \(sci(gw.0)) (\(gw.1)), BatchNorm statistics \(sci(sw.0)) (\(sw.1)), loss \(sci(le)) "
            + "[\(fmt(lossDist, 6)) vs \(fmt(lossRef, 6))]"
            + (vanishing > 0 ? "; \(vanishing) vanishing gradient tensor(s) measured against the largest gradient" : ""))
    }

    /// Gradient tensors whose largest value is below this share of the model's largest gradient
    /// count as vanishing (float32 rounding: ~1e-8 of it, measured on HarDNet-39DS).
    static let vanishingShare = 1e-5

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Double {
        var d = 0.0
        for i in a.indices {
            let x = abs(Double(a[i]) - Double(b[i]))
            d = max(d, x.isNaN ? .infinity : x)
        }
        return d
    }

    /// max|a − b| / max|b| (max|a − b| when b is all zero).
    static func relative(_ a: [Float], _ b: [Float]) -> Double {
        var d = 0.0, scale = 0.0
        for i in a.indices {
            let x = abs(Double(a[i]) - Double(b[i]))
            d = max(d, x.isNaN ? .infinity : x)
            scale = max(scale, abs(Double(b[i])))
        }
        return scale > 0 ? d / scale : d
    }
}

func sci(_ v: Double) -> String { String(format: "%.2e", v) }
