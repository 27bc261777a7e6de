import ArgumentParser

struct AutosamDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autosam-dist",
        abstract: "Train AutoSAM (frozen SAM + a trainable prompt generator) data-parallel over MPI.",
        subcommands: [Info.self, CheckMPI.self, Bench.self])
}
