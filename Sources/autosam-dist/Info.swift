import ArgumentParser
import Distributed
import Network

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the rank layout, thread counts and library versions this run would use.")

    @Option(help: "Compute threads per rank (default: cores ÷ ranks on this host).")
    var threads: Int?

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
    }

    func run() throws {
        let comm = try MPICommunicator.shared()
        defer { MPICommunicator.finalize() }
        let n = ThreadPolicy.apply(explicit: threads)
        var counts: [Int64] = [Int64(n)]
        try comm.allReduceSum(&counts)
        if comm.isRoot {
            print("ranks: \(comm.size) (\(ThreadPolicy.localRanks) on this host), cores: \(ThreadPolicy.onlineCores)")
            print("threads per rank: \(n) (all ranks: \(counts[0]))")
            print("BLAS: \(ComputeThreads.blasConfig)")
            print("MPI: \(MPICommunicator.libraryVersion.split(separator: "\n").first ?? "")")
        }
    }
}
