import Foundation

/// The table `bench conv` prints: GFLOP/s per shape, direction and engine, PyTorch's, the
/// oneDNN engine's speed-up over PyTorch, and per-model totals (seconds × calls per pass).
struct ConvBenchReport {
    let rows: [[String: Any]]
    let shapes: [ConvBenchShape]
    let engines: [String]

    func find(_ key: String, _ engine: String, _ dir: String, _ field: String = "seconds") -> Double? {
        rows.first { ($0["shape"] as? String) == key && ($0["engine"] as? String) == engine
            && ($0["direction"] as? String) == dir }?[field] as? Double
    }

    func print() {
        let hasTorch = rows.contains { ($0["engine"] as? String) == "pytorch" }
        let cols = engines + (hasTorch ? ["pytorch"] : [])
        let compare = hasTorch && engines.contains("onednn")
        Swift.print(pad("shape", 34) + pad("calls", 6) + pad("dir", 10) + cols.map { pad($0, 11) }.joined()
                    + (compare ? "onednn/pytorch" : ""))
        var wins = 0, pairs = 0
        var losses: [String] = []
        var totals: [String: [String: Double]] = [:]   // model → engine → seconds per pass
        for s in shapes {
            let model = String(s.name.prefix { $0 != " " })
            for dir in ["forward", "backward"] {
                var line = pad(s.name, 34) + pad("\(s.calls)", 6) + pad(dir, 10)
                for e in cols {
                    if let t = find(s.key, e, dir) {
                        line += pad(String(format: "%.1f", s.flops(dir) / t / 1e9), 11)
                        totals[model, default: [:]][e, default: 0] += t * Double(s.calls)
                        if e == "onednn", let r = find(s.key, e, dir, "reorder_seconds") {
                            totals[model, default: [:]]["reorder", default: 0] += r * Double(s.calls)
                        }
                    } else {
                        line += pad("–", 11)
                    }
                }
                if compare, let o = find(s.key, "onednn", dir), let p = find(s.key, "pytorch", dir) {
                    line += String(format: "%.2f×", p / o)
                    pairs += 1
                    if o <= p { wins += 1 } else { losses.append(String(format: "%@ %@ %.2f×", s.name, dir, p / o)) }
                }
                Swift.print(line)
            }
        }
        Swift.print("GFLOP/s: 2 × multiply-adds (backward: data + weights, twice the forward) ÷ median seconds")
        for model in ["g", "enc", "h"] {
            guard let t = totals[model] else { continue }
            let parts = cols.compactMap { e in t[e].map { String(format: "%@ %.2f s", e, $0) } }
            var line = "\(model) convolutions, forward + backward once each: " + parts.joined(separator: ", ")
            if let o = t["onednn"], let p = t["pytorch"] { line += String(format: " (oneDNN %.2f× PyTorch)", p / o) }
            if let o = t["onednn"], let r = t["reorder"] {
                line += String(format: "; oneDNN's NCHW ↔ blocked reorders %.0f%% of its time", 100 * r / o)
            }
            Swift.print(line)
        }
        if compare {
            Swift.print("(the encoder is frozen: its backward rows are timed for completeness; training never runs them)")
            Swift.print("oneDNN at least as fast as PyTorch on \(wins) of \(pairs) shape × direction pairs"
                        + (losses.isEmpty ? "" : "; slower on: " + losses.joined(separator: "; ")))
        }
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
