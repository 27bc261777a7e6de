import Foundation
import ArgumentParser
import Distributed

struct CheckMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-mpi",
        abstract: "Check all-reduce, broadcast and barrier across the ranks of this launch (run it under mpirun).")

    @Option(help: "Floats in the all-reduce check (above 1M tests the 4 MB chunking).")
    var floats: Int = (1 << 20) + 12_345

    func validate() throws {
        if floats < 1 { throw ValidationError("--floats must be positive, got \(floats)") }
    }

    func run() throws {
        let comm = try MPICommunicator.shared()
        defer { MPICommunicator.finalize() }
        let report = try CollectiveSelfTest(floats: floats).run(comm)
        if comm.isRoot {
            for c in report.checks { print("ok  \(c)") }
            let mb = Double(report.floatsReduced * 4) / 1e6
            let ms = report.allReduceSeconds * 1000
            print("ranks: \(report.ranks); all-reduce of \(Int(mb)) MB took \(String(format: "%.1f", ms)) ms on rank 0")
        }
    }
}
