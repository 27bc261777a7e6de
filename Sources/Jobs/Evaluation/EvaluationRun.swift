import Datasets
import Foundation
import Network
import Training

/// `autosam-dist eval`: every dataset found under each root, scored image by image with the
/// Evaluator (Dice, IoU, MAE at the original resolution, threshold 0.5).
public enum EvaluationRun {
    public static func run(model: AutoSAM, samCheckpoint: String, checkpointPath: String, roots: [String],
                           skipBad: Bool, cacheDirectory: String, batchSize: Int = 10,
                           surrogate: SurrogateModel? = nil, log: (String) -> Void = { _ in }) throws -> EvaluationReport {
        var sets: [SegmentationDataset] = []
        var notes: [String] = []
        for root in roots {
            let found = try SegmentationDataset.discover(root, skipBad: skipBad)
            for s in found where !s.skipped.isEmpty {
                log("warning: \(s.report)")
                notes.append("\(s.name): skipped \(s.skipped.count) bad file(s) (--skip-bad)")
            }
            sets += found
        }
        let pipeline = SamplePipeline(sam: model.sam, cache: try EmbeddingCache(directory: cacheDirectory),
                                      encoderID: try SamplePipeline.encoderID(kind: model.sam.kind, checkpoint: samCheckpoint))
        let evaluator = Evaluator(model: model, pipeline: pipeline, batchSize: batchSize)
        var rows: [EvaluationReport.Row] = []
        for s in sets where !s.samples.isEmpty {
            log("evaluating \(s.name): \(s.samples.count) image(s)")
            let hScores = try surrogate.map { try SurrogateEvaluator(model: $0, batchSize: batchSize).evaluate(s.samples) }
            for (i, score) in try evaluator.evaluate(s.samples).enumerated() {
                var row = EvaluationReport.Row(dataset: s.name, image: score.name, dice: score.dice, iou: score.iou, mae: score.mae)
                if let h = hScores?[i] { row.hDice = h.dice; row.hIoU = h.iou }
                rows.append(row)
            }
        }
        if surrogate == nil {
            notes.append("h(g(I)) scores: no surrogate decoder given (train one with train-h, pass --surrogate), so only Mz is scored.")
        }
        return EvaluationReport(rows: rows, checkpoint: checkpointPath, notes: notes)
    }
}
