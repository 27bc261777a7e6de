import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed on this machine (medians of repeated runs, with PyTorch beside us where installed).",
        subcommands: [BenchOps.self, BenchConv.self, BenchSAM.self, BenchG.self, BenchTrain.self, BenchDist.self])
}

/// Options every benchmark takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "Compute threads (default: cores ÷ ranks on this host).")
    var threads: Int?

    @Option(help: "Timed repeats per measurement (after one warm-up).")
    var repeats: Int = 3

    @Flag(help: "Print one JSON object per measurement instead of a table.")
    var json = false

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    }
}
