import Datasets
import Foundation
import Network
import Training

/// `autosam-dist eval`: every dataset found under each root (or a named list of samples, such as
/// a training run's validation split), scored image by image with the Evaluator (Dice, IoU, MAE
/// at the original resolution, threshold 0.5).
public enum EvaluationRun {
    public static func run(model: AutoSAM, samCheckpoint: String, checkpointPath: String, roots: [String],
                           skipBad: Bool, cacheDirectory: String, cachePrecision: CachePrecision = .float16, batchSize: Int = 10,
                           surrogate: SurrogateModel? = nil, boxBaseline: Bool = false, selfPrompt: SelfPrompt? = nil,
                           log: (String) -> Void = { _ in }) throws -> EvaluationReport {
        var groups: [(name: String, samples: [DatasetSample])] = []
        var notes: [String] = []
        for root in roots {
            let found = try SegmentationDataset.discover(root, skipBad: skipBad)
            for s in found where !s.skipped.isEmpty {
                log("warning: \(s.report)")
                notes.append("\(s.name): skipped \(s.skipped.count) bad file(s) (--skip-bad)")
            }
            groups += found.map { ($0.name, $0.samples) }
        }
        return try score(groups, notes: notes, model: model, samCheckpoint: samCheckpoint, checkpointPath: checkpointPath,
                         cacheDirectory: cacheDirectory, cachePrecision: cachePrecision, batchSize: batchSize,
                         surrogate: surrogate, boxBaseline: boxBaseline, selfPrompt: selfPrompt, log: log)
    }

    /// Scores named groups of samples, one table row per group. With `selfPrompt`, each image is
    /// scored self-prompted too (beside g alone), with the box pass's decision.
    public static func score(_ groups: [(name: String, samples: [DatasetSample])], notes: [String] = [], model: AutoSAM,
                             samCheckpoint: String, checkpointPath: String, cacheDirectory: String,
                             cachePrecision: CachePrecision = .float16, batchSize: Int = 10,
                             surrogate: SurrogateModel? = nil, boxBaseline: Bool = false, selfPrompt: SelfPrompt? = nil,
                             log: (String) -> Void = { _ in }) throws -> EvaluationReport {
        var notes = notes
        let pipeline = SamplePipeline(sam: model.sam, cache: try EmbeddingCache(directory: cacheDirectory, precision: cachePrecision),
                                      encoderID: try SamplePipeline.encoderID(kind: model.sam.kind, checkpoint: samCheckpoint),
                                      generatorSide: model.generatorSide)
        let evaluator = Evaluator(model: model, pipeline: pipeline, batchSize: batchSize)
        var rows: [EvaluationReport.Row] = []
        for g in groups where !g.samples.isEmpty {
            log("evaluating \(g.name): \(g.samples.count) image(s)")
            let hScores = try surrogate.map { try SurrogateEvaluator(model: $0, batchSize: batchSize).evaluate(g.samples) }
            let boxScores = boxBaseline ? try BoxBaseline(pipeline: pipeline).evaluate(g.samples) : nil
            let selfScores = try selfPrompt.map {
                try SelfPromptEvaluator(model: model, pipeline: pipeline, selfPrompt: $0, batchSize: batchSize).evaluate(g.samples)
            }
            for (i, score) in try evaluator.evaluate(g.samples).enumerated() {
                var row = EvaluationReport.Row(dataset: g.name, image: score.name, dice: score.dice, iou: score.iou, mae: score.mae)
                if let h = hScores?[i] { row.hDice = h.dice; row.hIoU = h.iou }
                if let b = boxScores?[i] { row.boxDice = b.dice; row.boxIoU = b.iou }
                if let sp = selfScores?[i] {
                    row.selfDice = sp.dice; row.selfIoU = sp.iou; row.selfUsedBox = sp.outcome.usedBox
                    row.generatorPredictedIoU = Double(sp.outcome.generatorIoU)
                    row.boxPredictedIoU = sp.outcome.boxIoU.map(Double.init)
                }
                rows.append(row)
            }
        }
        if surrogate == nil {
            notes.append("h(g(I)) scores: no surrogate decoder given (train one with train-h, pass --surrogate), so only Mz is scored.")
        }
        if boxBaseline {
            notes.append("SAM + true box: the same SAM prompted with each ground-truth mask's bounding box (no g): "
                         + "the score a person drawing the box would reach. An empty mask gets no box and scores its empty prediction.")
        }
        if let sp = selfPrompt {
            notes.append("Self-prompted: \(sp.summary). Per image: self_box_used, g_pred_iou and box_pred_iou (SAM's "
                         + "predicted IoUs) in per_image.csv.")
        }
        return EvaluationReport(rows: rows, checkpoint: checkpointPath, notes: notes)
    }
}
