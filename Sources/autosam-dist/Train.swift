import ArgumentParser
import Distributed
import Foundation
import Network
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train g (the prompt generator) against a frozen SAM; data-parallel under mpirun.",
        discussion: """
        Example: mpirun -n 2 autosam-dist train --config Configs/demo.yaml
        A run stopped at any point continues exactly with `--resume auto` (same rank count: bitwise).
        `train --config C --print-config` shows every key's value (Configs/README.md says what each changes).
        """)

    @Option(help: "YAML config (see Configs/README.md).")
    var config: String?

    @Flag(help: "Print the resolved config (every key, defaults and --epochs/--output included) as YAML and exit.")
    var printConfig = false

    @Option(help: "Resume: 'auto' (the newest complete checkpoint in output.dir; none: start fresh) or a checkpoint path.")
    var resume: String?

    @Option(help: "Start g from a ModelEmb state dict (.pth or .safetensors, from `export` or PyTorch); sets generator.init_from.")
    var initFrom: String?

    @Option(help: "Override train.epochs.")
    var epochs: Int?

    @Option(help: "Stop after this many optimiser steps in all, writing a step checkpoint there.")
    var maxSteps: Int?

    @Option(help: "Override data.train (the training folder; the validation split is held out of it unless data.validation is set).")
    var data: String?

    @Option(help: "Override output.dir (checkpoints, metrics.jsonl, steps.jsonl).")
    var output: String?

    @Option(help: "Write a Chrome-trace timeline of the run (one track per rank) to this file.")
    var trace: String?

    @Option(help: "Compute threads per rank (default: the cores this rank may run on, shared by the ranks of its host).")
    var threads: Int?

    @Option(help: "Convolution engine: onednn, reference or auto (default: AUTOSAM_CONV_ENGINE, else auto).")
    var convEngine: String?

    func validate() throws {
        if let config {
            guard FileManager.default.fileExists(atPath: config) else { throw ValidationError("\(config): config file not found") }
        } else if !printConfig {
            throw ValidationError("give --config (a YAML file, e.g. Configs/demo.yaml)")
        }
        if let r = resume, r != "auto", !FileManager.default.fileExists(atPath: r) {
            throw ValidationError("\(r): checkpoint not found (give a path or 'auto')")
        }
        if let d = data, !FileManager.default.fileExists(atPath: d) { throw ValidationError("\(d): --data folder not found") }
        if let i = initFrom, !FileManager.default.fileExists(atPath: i) { throw ValidationError("\(i): --init-from file not found") }
        if let e = epochs, e < 1 { throw ValidationError("--epochs must be at least 1") }
        if let m = maxSteps, m < 1 { throw ValidationError("--max-steps must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The config file (or the defaults, for --print-config alone) with the command's overrides.
    func resolvedConfig() throws -> TrainConfig {
        var cfg = try config.map(TrainConfig.load) ?? TrainConfig()
        if let e = epochs { cfg.train.epochs = e }
        if let i = initFrom {
            cfg.generator.initFrom = i
            try cfg.check(path: config ?? "<defaults>")
        }
        if let o = output { cfg.output.dir = o }
        if let d = data { cfg.data.train = d }
        return cfg
    }

    func run() throws {
        if printConfig {
            do { print(try resolvedConfig().resolvedYAML(), terminator: "") } catch {
                FileHandle.standardError.write(Data("autosam-dist train: error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        let comm = try MPICommunicator.shared()
        defer { MPICommunicator.finalize() }
        do {
            let cfg = try resolvedConfig()
            // The batch-invariant mode runs on the reference engine unless told otherwise (and then refuses).
            let engine = convEngine ?? (cfg.distributed.deterministic ? "reference" : nil)
            // …and on one compute thread per rank (OpenBLAS's bits depend on its thread count).
            let context = try ThreadPolicy.context(explicit: threads ?? (cfg.distributed.deterministic ? 1 : nil), engine: engine, announce: true)
            let trainer = try Trainer(config: cfg, comm: comm, context: context, resume: resume, maxSteps: maxSteps, trace: trace)
            try trainer.run()
        } catch {
            // One rank failing must end the whole job, not leave the others waiting.
            FileHandle.standardError.write(Data("autosam-dist train (rank \(comm.rank) of \(comm.size)): error: \(error)\n".utf8))
            if comm.size > 1 { comm.abort(code: 1) }
            throw ExitCode(1)
        }
    }
}
