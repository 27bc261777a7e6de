import ArgumentParser
import Distributed
import Foundation
import Network
import Training

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a data-parallel launch: each step's summed gradient, BatchNorm statistics and loss against rank 0 computing the whole batch alone.",
        discussion: "Run it under mpirun with the ranks of the real job: mpirun -n 4 autosam-dist verify --config Configs/polyp.yaml --steps 3")

    @Option(help: "YAML config (see Configs/).")
    var config: String

    @Option(help: "Override data.train (as train's --data).")
    var data: String?

    @Option(help: "Optimiser steps to check.")
    var steps: Int = 2

    @Option(help: "Largest relative difference (max|Δ| / max|reference| per tensor) of the loss and the BatchNorm statistics.")
    var tolerance: Double = 1e-5

    @Option(help: "Largest relative difference of a gradient tensor (float32 rounding that depends on the shard size is amplified by BatchNorm's backward: up to 5.0e-3 measured on an Intel Xeon, 2.8e-2 on an AMD EPYC; distributed.deterministic makes it 0).")
    var gradientTolerance: Double = 5e-2

    @Option(help: "Compute threads per rank (default: the cores this rank may run on, shared by the ranks of its host).")
    var threads: Int?

    @Option(help: "Convolution engine: onednn, reference or auto (default: AUTOSAM_CONV_ENGINE, else auto), as the job will train with.")
    var convEngine: String?

    func validate() throws {
        guard FileManager.default.fileExists(atPath: config) else { throw ValidationError("\(config): config file not found") }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if !(tolerance >= 0) { throw ValidationError("--tolerance must not be negative") }
        if !(gradientTolerance >= 0) { throw ValidationError("--gradient-tolerance must not be negative") }
    }

    func run() throws {
        let comm = try MPICommunicator.shared()
        defer { MPICommunicator.finalize() }
        let passed: Bool
        do {
            var cfg = try TrainConfig.load(config)
            if let d = data { cfg.data.train = d }
            let engine = convEngine ?? (cfg.distributed.deterministic ? "reference" : nil)
            // …and on one compute thread per rank (OpenBLAS's bits depend on its thread count).
            let context = try ThreadPolicy.context(explicit: threads ?? (cfg.distributed.deterministic ? 1 : nil), engine: engine, announce: true)
            passed = try DataParallelVerifier(config: cfg, comm: comm, context: context, tolerance: tolerance,
                                          gradientTolerance: gradientTolerance).run(steps: steps)
        } catch {
            FileHandle.standardError.write(Data("autosam-dist verify (rank \(comm.rank) of \(comm.size)): error: \(error)\n".utf8))
            if comm.size > 1 { comm.abort(code: 1) }
            throw ExitCode(1)
        }
        if !passed { throw ExitCode(2) }
    }
}
