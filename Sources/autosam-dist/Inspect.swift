import ArgumentParser
import Distributed
import Foundation
import Training

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a training checkpoint, or compare two tensor by tensor.",
        discussion: "autosam-dist inspect runs/demo/last.ckpt --compare other/last.ckpt --tolerance 0")

    @Argument(help: "A checkpoint written by train.")
    var checkpoint: String

    @Option(help: "A second checkpoint to compare with, tensor by tensor.")
    var compare: String?

    @Option(help: "With --compare: the largest allowed absolute difference per element (0: the bits must agree).")
    var tolerance: Double = 0

    func validate() throws {
        if !(tolerance >= 0) { throw ValidationError("--tolerance must not be negative") }
    }

    func run() throws {
        let a: TrainingCheckpoint
        do { a = try TrainingCheckpoint.read(checkpoint) } catch { throw InspectError("\(error)") }
        guard let other = compare else {
            print(Self.describe(a, path: checkpoint))
            return
        }
        let b: TrainingCheckpoint
        do { b = try TrainingCheckpoint.read(other) } catch { throw InspectError("\(error)") }
        let c: CheckpointComparison
        do { c = try CheckpointComparison(a, b, tolerance: tolerance) } catch { throw InspectError("\(checkpoint) vs \(other): \(error)") }
        let width = max(6, c.rows.map(\.name.count).max() ?? 6)
        print("tensor".padding(toLength: width, withPad: " ", startingAt: 0) + "  elements   max |Δ|     max rel    beyond")
        for r in c.rows {
            print(r.name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + "  " + String(r.count).leftPad(8) + "  " + String(format: "%.3e", r.maxAbs) + "  " + String(format: "%.3e", r.maxRel)
                  + "  " + String(format: "%.4f%%", 100 * r.share))
        }
        for d in c.headerDifferences { print("header: \(d)") }
        let worst = c.rows.max { $0.maxAbs < $1.maxAbs }
        let bad = c.rows.filter { $0.beyond > 0 }
        let what = tolerance == 0 ? "bits differ" : "|Δ| > \(tolerance)"
        print("\(c.rows.count) tensors; largest |Δ| \(String(format: "%.3e", worst?.maxAbs ?? 0)) (\(worst?.name ?? "-")); "
              + "\(bad.count) tensor(s) with elements where \(what)" + (c.headerDifferences.isEmpty ? "" : "; the headers differ"))
        if !c.passes { throw ExitCode(1) }
    }

    static func describe(_ ck: TrainingCheckpoint, path: String) -> String {
        let h = ck.header
        var lines = ["checkpoint: \(path)",
                     "generator: \(h.backbone), \(ck.parameters.count) parameters in \(h.parameters.count) tensors, \(ck.buffers.count) running-statistic values",
                     "SAM: \(h.sam)" + (h.identity.map { ", SHA-256 \($0.samSHA256)" } ?? ""),
                     "step: \(h.step) (Adam step \(h.adam.step))"]
        if let p = h.position {
            lines.append("epoch: \(p.epoch + 1) in progress, \(p.batch) batch(es) of it trained (\(p.samples) samples)")
        } else {
            lines.append("epoch: \(h.epoch) completed")
        }
        lines.append("ranks: " + (h.ranks.map(String.init) ?? "not recorded"))
        if let best = h.bestValidationDice { lines.append("best validation Dice: \(String(format: "%.4f", best))") }
        if let id = h.identity {
            lines.append("dataset manifest: \(id.manifest.train.count / 2) training and \(id.manifest.validation.count / 2) validation pairs (\(id.manifest.count) files)")
            lines.append("config fingerprint: \(id.fingerprint)")
        }
        lines.append("parameter checksum: \(ck.parameterChecksum)")
        lines.append("config:")
        lines += h.configYAML.split(separator: "\n").map { "  " + $0 }
        return lines.joined(separator: "\n")
    }
}

struct InspectError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
