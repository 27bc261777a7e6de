/// Per-image segmentation metrics on binary masks (0/1 bytes) at the ground truth's original resolution.
///
/// Empty-mask convention (as in PraNet's and most polyp benchmarks' evaluation, and MedSAM's): when both
/// the prediction and the ground truth are empty, Dice and IoU are 1.0 (a perfect "nothing here"); when
/// exactly one of them is empty, they are 0.0 (this follows from the formulas).
public enum Metrics {
    /// Dice = 2|P∩G| / (|P| + |G|).
    public static func dice(_ pred: [UInt8], _ gt: [UInt8]) -> Double {
        let (inter, p, g) = counts(pred, gt)
        return p + g == 0 ? 1.0 : 2.0 * Double(inter) / Double(p + g)
    }

    /// IoU (Jaccard) = |P∩G| / |P∪G|.
    public static func iou(_ pred: [UInt8], _ gt: [UInt8]) -> Double {
        let (inter, p, g) = counts(pred, gt)
        let union = p + g - inter
        return union == 0 ? 1.0 : Double(inter) / Double(union)
    }

    public static func dice(_ pred: Mask, _ gt: Mask) -> Double {
        precondition(pred.width == gt.width && pred.height == gt.height, "Metrics: mask sizes differ")
        return dice(pred.pixels, gt.pixels)
    }

    public static func iou(_ pred: Mask, _ gt: Mask) -> Double {
        precondition(pred.width == gt.width && pred.height == gt.height, "Metrics: mask sizes differ")
        return iou(pred.pixels, gt.pixels)
    }

    /// Mean absolute error between a prediction in [0, 1] (probabilities or a 0/1 mask) and the 0/1 truth.
    public static func meanAbsoluteError(_ pred: [Float], _ gt: [UInt8]) -> Double {
        precondition(pred.count == gt.count && !gt.isEmpty, "Metrics: sizes differ or are empty")
        var sum = 0.0
        for i in gt.indices { sum += abs(Double(pred[i]) - Double(gt[i])) }
        return sum / Double(gt.count)
    }

    /// 1 where value > threshold (0.5 by default, the evaluation's threshold), else 0.
    public static func binarize(_ values: [Float], threshold: Float = 0.5) -> [UInt8] {
        values.map { $0 > threshold ? 1 : 0 }
    }

    static func counts(_ pred: [UInt8], _ gt: [UInt8]) -> (inter: Int, pred: Int, gt: Int) {
        precondition(pred.count == gt.count, "Metrics: prediction has \(pred.count) pixels, ground truth \(gt.count)")
        var inter = 0, p = 0, g = 0
        for i in pred.indices {
            let a = pred[i] != 0, b = gt[i] != 0
            if a { p += 1 }
            if b { g += 1 }
            if a && b { inter += 1 }
        }
        return (inter, p, g)
    }
}

/// Mean and population standard deviation (ddof 0, NumPy's default) of per-image scores.
public struct MeanStd: Equatable, Sendable, Codable {
    public var mean: Double
    public var std: Double
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        guard !values.isEmpty else { mean = .nan; std = .nan; return }
        mean = values.reduce(0, +) / Double(values.count)
        let m = mean
        std = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)).squareRoot()
    }
}
