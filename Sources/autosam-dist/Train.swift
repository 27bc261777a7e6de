import ArgumentParser
import Distributed
import Foundation
import Network
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train g (the prompt generator) against a frozen SAM; data-parallel under mpirun.",
        discussion: "Example: mpirun -n 2 autosam-dist train --config Configs/demo.yaml")

    @Option(help: "YAML config (see Configs/).")
    var config: String

    @Option(help: "Resume from a checkpoint written by an earlier run (last.ckpt).")
    var resume: String?

    @Option(help: "Override train.epochs.")
    var epochs: Int?

    @Option(help: "Compute threads per rank (default: cores ÷ ranks on this host).")
    var threads: Int?

    @Option(help: "Convolution engine: onednn, reference or auto (default: AUTOSAM_CONV_ENGINE, else auto).")
    var convEngine: String?

    func validate() throws {
        guard FileManager.default.fileExists(atPath: config) else { throw ValidationError("\(config): config file not found") }
        if let r = resume, !FileManager.default.fileExists(atPath: r) { throw ValidationError("\(r): checkpoint not found") }
        if let e = epochs, e < 1 { throw ValidationError("--epochs must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let comm = try MPICommunicator.shared()
        defer { MPICommunicator.finalize() }
        do {
            var cfg = try TrainConfig.load(config)
            if let e = epochs { cfg.train.epochs = e }
            let context = try ThreadPolicy.context(explicit: threads, engine: convEngine)
            let trainer = try Trainer(config: cfg, comm: comm, context: context, resume: resume)
            try trainer.run()
        } catch {
            // One rank failing must end the whole job, not leave the others waiting.
            FileHandle.standardError.write(Data("autosam-dist train (rank \(comm.rank)): error: \(error)\n".utf8))
            if comm.size > 1 { comm.abort(code: 1) }
            throw ExitCode(1)
        }
    }
}
