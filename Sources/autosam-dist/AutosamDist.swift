import ArgumentParser

struct AutosamDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autosam-dist",
        abstract: "Train AutoSAM (frozen SAM + a trainable prompt generator) data-parallel over MPI.",
        subcommands: [Train.self, Verify.self, Inspect.self, Export.self, TrainH.self, Eval.self, Predict.self, Figures.self, MakeDemoData.self, Bench.self, CheckMPI.self, Info.self])
}
