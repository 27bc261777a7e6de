import Datasets
import Foundation

/// The paper-style table (one row per dataset) as CSV, beside summary.md, for spreadsheets and plots.
extension EvaluationReport {
    public var summaryCSV: String {
        let withH = summaries.contains { $0.hDice != nil }, withBox = summaries.contains { $0.boxDice != nil }
        let withSelf = summaries.contains { $0.selfDice != nil }
        var s = "dataset,n,dice_mean,dice_std,iou_mean,iou_std,mae_mean" + (withH ? ",h_dice_mean,h_dice_std" : "")
            + (withBox ? ",box_dice_mean,box_dice_std" : "")
            + (withSelf ? ",self_dice_mean,self_dice_std,self_iou_mean,self_iou_std,self_box_used" : "") + ",paper_dice\n"
        for d in summaries {
            var f = [Self.csvField(d.dataset), "\(d.dice.count)", Self.num(d.dice.mean), Self.num(d.dice.std),
                     Self.num(d.iou.mean), Self.num(d.iou.std), Self.num(d.mae.mean)]
            if withH { f += [d.hDice.map { Self.num($0.mean) } ?? "", d.hDice.map { Self.num($0.std) } ?? ""] }
            if withBox { f += [d.boxDice.map { Self.num($0.mean) } ?? "", d.boxDice.map { Self.num($0.std) } ?? ""] }
            if withSelf {
                f += [d.selfDice.map { Self.num($0.mean) } ?? "", d.selfDice.map { Self.num($0.std) } ?? "",
                      d.selfIoU.map { Self.num($0.mean) } ?? "", d.selfIoU.map { Self.num($0.std) } ?? "",
                      d.selfUsedBox.map { "\($0)" } ?? ""]
            }
            // Percent, as the paper prints it; empty where the paper has no number for the dataset.
            f.append(d.paper.map { String(format: "%g", $0.dice) } ?? "")
            s += f.joined(separator: ",") + "\n"
        }
        return s
    }
}
