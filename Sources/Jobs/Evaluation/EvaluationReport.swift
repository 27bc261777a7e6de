import Datasets
import Foundation

/// Per-image scores grouped by dataset, written as `per_image.csv`, a Markdown table laid
/// out like the paper's (one row per dataset, the paper's Dice beside ours) and that table as `summary.csv`.
public struct EvaluationReport {
    public struct Row: Equatable {
        public var dataset: String
        public var image: String
        public var dice: Double
        public var iou: Double
        public var mae: Double
        /// h(g(I)) scores, when a surrogate decoder was evaluated too.
        public var hDice: Double? = nil
        public var hIoU: Double? = nil
        /// SAM prompted with the ground truth's bounding box: what a person's box would reach.
        public var boxDice: Double? = nil
        public var boxIoU: Double? = nil
        /// Self-prompted AutoSAM (SelfPrompt): its scores, whether the box pass was used, and
        /// SAM's predicted IoU for g's pass and for the box pass (nil when g's mask was empty).
        public var selfDice: Double? = nil
        public var selfIoU: Double? = nil
        public var selfUsedBox: Bool? = nil
        public var generatorPredictedIoU: Double? = nil
        public var boxPredictedIoU: Double? = nil
    }

    public struct DatasetSummary {
        public var dataset: String
        public var dice: MeanStd
        public var iou: MeanStd
        public var mae: MeanStd
        public var hDice: MeanStd?
        public var boxDice: MeanStd?
        public var selfDice: MeanStd?
        public var selfIoU: MeanStd?
        /// Images whose self-prompted mask is the box pass's.
        public var selfUsedBox: Int?
        public var paper: PaperResults.Entry?
    }

    public var rows: [Row]
    public var checkpoint: String
    public var notes: [String]

    public init(rows: [Row], checkpoint: String, notes: [String] = []) {
        self.rows = rows
        self.checkpoint = checkpoint
        self.notes = notes
    }

    /// Datasets in first-seen order.
    public var summaries: [DatasetSummary] {
        var order: [String] = []
        for r in rows where !order.contains(r.dataset) { order.append(r.dataset) }
        return order.map { d in
            let rs = rows.filter { $0.dataset == d }
            return DatasetSummary(dataset: d, dice: MeanStd(rs.map(\.dice)), iou: MeanStd(rs.map(\.iou)),
                                  mae: MeanStd(rs.map(\.mae)),
                                  hDice: rs.allSatisfy { $0.hDice != nil } ? MeanStd(rs.compactMap(\.hDice)) : nil,
                                  boxDice: rs.allSatisfy { $0.boxDice != nil } ? MeanStd(rs.compactMap(\.boxDice)) : nil,
                                  selfDice: rs.allSatisfy { $0.selfDice != nil } ? MeanStd(rs.compactMap(\.selfDice)) : nil,
                                  selfIoU: rs.allSatisfy { $0.selfIoU != nil } ? MeanStd(rs.compactMap(\.selfIoU)) : nil,
                                  selfUsedBox: rs.allSatisfy { $0.selfUsedBox != nil } ? rs.filter { $0.selfUsedBox == true }.count : nil,
                                  paper: PaperResults.lookup(d))
        }
    }

    public var csv: String {
        let withH = rows.contains { $0.hDice != nil }, withBox = rows.contains { $0.boxDice != nil }
        let withSelf = rows.contains { $0.selfDice != nil }
        var s = "dataset,image,dice,iou,mae" + (withH ? ",h_dice,h_iou" : "") + (withBox ? ",box_dice,box_iou" : "")
            + (withSelf ? ",self_dice,self_iou,self_box_used,g_pred_iou,box_pred_iou" : "") + "\n"
        for r in rows {
            var f = [Self.csvField(r.dataset), Self.csvField(r.image), Self.num(r.dice), Self.num(r.iou), Self.num(r.mae)]
            if withH { f += [r.hDice.map(Self.num) ?? "", r.hIoU.map(Self.num) ?? ""] }
            if withBox { f += [r.boxDice.map(Self.num) ?? "", r.boxIoU.map(Self.num) ?? ""] }
            if withSelf {
                f += [r.selfDice.map(Self.num) ?? "", r.selfIoU.map(Self.num) ?? "", r.selfUsedBox.map { $0 ? "1" : "0" } ?? "",
                      r.generatorPredictedIoU.map(Self.num) ?? "", r.boxPredictedIoU.map(Self.num) ?? ""]
            }
            s += f.joined(separator: ",") + "\n"
        }
        return s
    }

    static func num(_ v: Double) -> String { String(format: "%.6f", v) }

    /// RFC 4180 quoting when a field holds a comma, quote or newline.
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func pct(_ m: MeanStd) -> String { String(format: "%.1f ± %.1f", 100 * m.mean, 100 * m.std) }

    public var table: String {
        let withH = summaries.contains { $0.hDice != nil }, withBox = summaries.contains { $0.boxDice != nil }
        let withSelf = summaries.contains { $0.selfDice != nil }
        var s = "| Dataset | n | Dice (%) | IoU (%) | MAE |" + (withH ? " h(g(I)) Dice (%) |" : "")
            + (withBox ? " SAM + true box Dice (%) |" : "")
            + (withSelf ? " Self-prompted Dice (%) | Self-prompted IoU (%) | Box pass used |" : "") + " Paper Dice (%) |\n"
        s += "|---|---:|---:|---:|---:|" + (withH ? "---:|" : "") + (withBox ? "---:|" : "") + (withSelf ? "---:|---:|---:|" : "") + "---:|\n"
        for d in summaries {
            let paper = d.paper.map { ($0.approximate ? "≈" : "") + String(format: "%g", $0.dice) } ?? "—"
            s += "| \(d.dataset.replacingOccurrences(of: "|", with: "\\|")) | \(d.dice.count) | \(Self.pct(d.dice)) | \(Self.pct(d.iou)) | "
                + String(format: "%.4f", d.mae.mean) + " |" + (withH ? " \(d.hDice.map(Self.pct) ?? "—") |" : "")
                + (withBox ? " \(d.boxDice.map(Self.pct) ?? "—") |" : "")
                + (withSelf ? " \(d.selfDice.map(Self.pct) ?? "—") | \(d.selfIoU.map(Self.pct) ?? "—") | "
                    + (d.selfUsedBox.map { "\($0) of \(d.dice.count)" } ?? "—") + " |" : "") + " \(paper) |\n"
        }
        return s
    }

    public var markdown: String {
        var s = "# AutoSAM evaluation\n\n"
        s += "Checkpoint: `\(checkpoint)`. Mz = SAM's mask with g(I) as the dense prompt; per image at the "
            + "original label resolution, threshold 0.5; mean ± std (population) over images; MAE of the "
            + "probability map. Paper: Dice the AutoSAM paper reports (SAM ViT-H, GPU budget; arXiv 2306.06370).\n\n"
        s += table
        let lines = notes + (selfPromptCount.map { [$0] } ?? [])
        if !lines.isEmpty { s += "\n" + lines.map { "- \($0)" }.joined(separator: "\n") + "\n" }
        return s
    }

    /// How often self-prompting used the box pass, over all images (nil when it was not scored).
    public var selfPromptCount: String? {
        let scored = rows.filter { $0.selfUsedBox != nil }
        guard !scored.isEmpty else { return nil }
        let used = scored.filter { $0.selfUsedBox == true }.count, empty = scored.filter { $0.boxPredictedIoU == nil }.count
        return "Self-prompting used the box pass for \(used) of \(scored.count) image(s); g's mask was kept for "
            + "\(scored.count - used - empty) whose box pass SAM predicted a lower IoU for, and \(empty) with an empty g mask."
    }

    public func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(csv.utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("per_image.csv")), options: .atomic)
        try Data(markdown.utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("summary.md")), options: .atomic)
        try Data(summaryCSV.utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("summary.csv")), options: .atomic)
    }
}
