import Foundation

/// The checkpoints of one run's output folder: `step-<n>.ckpt` every so many optimiser steps
/// (the newest `keep` kept), `last.ckpt` at epoch ends, `best.ckpt` by validation Dice. Every
/// file is written atomically, so a run killed at any moment leaves only complete files.
public struct CheckpointStore {
    public let directory: String
    public let keep: Int

    public init(directory: String, keep: Int) {
        self.directory = directory
        self.keep = max(1, keep)
    }

    public var last: String { directory + "/last.ckpt" }
    public var best: String { directory + "/best.ckpt" }
    public func stepPath(_ step: Int) -> String { directory + "/step-" + String(format: "%08d", step) + ".ckpt" }

    /// Step checkpoints present, oldest first.
    public func stepCheckpoints() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("step-"), n.hasSuffix(".ckpt"), let k = Int(n.dropFirst(5).dropLast(5)) else { return nil }
            return (k, directory + "/" + n)
        }.sorted { $0.0 < $1.0 }
    }

    /// Writes a step checkpoint and removes the step checkpoints beyond the newest `keep`.
    public func writeStep(_ ck: TrainingCheckpoint) throws {
        try ck.write(to: stepPath(ck.header.step))
        for old in stepCheckpoints().dropLast(keep) { try? FileManager.default.removeItem(atPath: old.path) }
    }

    /// The newest checkpoint that reads back whole (by optimiser step, then position; `last.ckpt`
    /// and step files alike), with a note for each newer one that could not be read. nil: none.
    public func newestComplete() -> (path: String, checkpoint: TrainingCheckpoint, skipped: [String])? {
        var candidates = stepCheckpoints().map(\.path)
        if FileManager.default.fileExists(atPath: last) { candidates.append(last) }
        var read: [(String, TrainingCheckpoint)] = []
        var skipped: [String] = []
        for p in candidates {
            do { read.append((p, try TrainingCheckpoint.read(p))) } catch { skipped.append("\(error)") }
        }
        func order(_ h: TrainingCheckpoint.Header) -> (Int, Int, Int) {
            (h.step, h.position?.epoch ?? h.epoch, h.position == nil ? 1 : 0)
        }
        guard let best = read.max(by: { order($0.1.header) < order($1.1.header) }) else { return nil }
        return (best.0, best.1, skipped)
    }
}
