import Datasets
import Foundation

/// Tensor-by-tensor differences between two checkpoints of the same g: parameters, running
/// statistics and Adam's moments, each by its state-dict name. With tolerance 0 an element
/// counts as different when its bits differ (so −0 and +0, or two NaNs, are told apart).
public struct CheckpointComparison {
    public struct Row {
        public var name: String
        public var count: Int
        public var maxAbs: Double
        public var maxRel: Double          // max|Δ| / max|B|
        public var beyond: Int             // elements with |Δ| > tolerance (bits differ at 0)
        public var share: Double { count == 0 ? 0 : Double(beyond) / Double(count) }
    }

    public var rows: [Row]
    public var headerDifferences: [String]
    public var tolerance: Double

    public var passes: Bool { headerDifferences.isEmpty && rows.allSatisfy { $0.beyond == 0 } }

    public init(_ a: TrainingCheckpoint, _ b: TrainingCheckpoint, tolerance: Double) throws {
        self.tolerance = tolerance
        var notes: [String] = []
        let ha = a.header, hb = b.header
        guard ha.parameters == hb.parameters, ha.buffers == hb.buffers else {
            throw ComparisonError(problem: "the checkpoints hold different tensors (\(ha.backbone), \(ha.parameters.count) parameters vs \(hb.backbone), \(hb.parameters.count))")
        }
        if ha.step != hb.step { notes.append("step \(ha.step) vs \(hb.step)") }
        if ha.epoch != hb.epoch { notes.append("epochs completed \(ha.epoch) vs \(hb.epoch)") }
        if ha.adam.step != hb.adam.step { notes.append("Adam step \(ha.adam.step) vs \(hb.adam.step)") }
        headerDifferences = notes
        var out: [Row] = []
        func compare(_ entries: [TrainingCheckpoint.Entry], _ x: [Float], _ y: [Float], prefix: String) {
            var off = 0
            for e in entries {
                let n = e.shape.reduce(1, *)
                var maxAbs = 0.0, scale = 0.0, beyond = 0
                for i in off..<(off + n) {
                    let d = abs(Double(x[i]) - Double(y[i]))
                    maxAbs = max(maxAbs, d.isNaN ? .infinity : d)
                    scale = max(scale, abs(Double(y[i])))
                    if tolerance == 0 ? x[i].bitPattern != y[i].bitPattern : !(d <= tolerance) { beyond += 1 }
                }
                out.append(Row(name: prefix + e.name, count: n, maxAbs: maxAbs,
                               maxRel: maxAbs == 0 ? 0 : maxAbs / max(scale, 1e-30), beyond: beyond))
                off += n
            }
        }
        compare(ha.parameters, a.parameters, b.parameters, prefix: "")
        compare(ha.buffers, a.buffers, b.buffers, prefix: "")
        compare(ha.parameters, a.adamM, b.adamM, prefix: "adam.m.")
        compare(ha.parameters, a.adamV, b.adamV, prefix: "adam.v.")
        rows = out
    }
}

public struct ComparisonError: Error, CustomStringConvertible {
    public let problem: String
    public var description: String { problem }
}

public extension TrainingCheckpoint {
    /// A digest of g's parameters and running statistics, as `inspect` prints it.
    var parameterChecksum: String {
        var h = ContentHash()
        h.update(parameters)
        h.update(buffers)
        return String(h.hex.prefix(16))
    }
}
