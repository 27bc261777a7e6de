import Datasets
import Foundation

/// The paper-style table (one row per dataset) as CSV, beside summary.md, for spreadsheets and plots.
extension EvaluationReport {
    public var summaryCSV: String {
        let withH = summaries.contains { $0.hDice != nil }, withBox = summaries.contains { $0.boxDice != nil }
        var s = "dataset,n,dice_mean,dice_std,iou_mean,iou_std,mae_mean" + (withH ? ",h_dice_mean,h_dice_std" : "")
            + (withBox ? ",box_dice_mean,box_dice_std" : "") + ",paper_dice\n"
        for d in summaries {
            var f = [Self.csvField(d.dataset), "\(d.dice.count)", Self.num(d.dice.mean), Self.num(d.dice.std),
                     Self.num(d.iou.mean), Self.num(d.iou.std), Self.num(d.mae.mean)]
            if withH { f += [d.hDice.map { Self.num($0.mean) } ?? "", d.hDice.map { Self.num($0.std) } ?? ""] }
            if withBox { f += [d.boxDice.map { Self.num($0.mean) } ?? "", d.boxDice.map { Self.num($0.std) } ?? ""] }
            // Percent, as the paper prints it; empty where the paper has no number for the dataset.
            f.append(d.paper.map { String(format: "%g", $0.dice) } ?? "")
            s += f.joined(separator: ",") + "\n"
        }
        return s
    }
}
