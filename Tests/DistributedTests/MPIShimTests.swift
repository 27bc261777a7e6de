import TestSupport
import XCTest

/// The C shim's collectives, checked in real launches: singleton (no mpirun) and
/// mpirun with 2 and 3 ranks (3 oversubscribes a 2-core machine on purpose).
final class MPIShimTests: XCTestCase {
    func testSingletonWithoutMpirun() throws {
        let bin = try ProgramRunner.requireBinary()
        let r = try ProgramRunner.run(bin.path, ["check-mpi"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("ranks: 1;"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "ok  ").count - 1, 7, r.stdout)
    }

    func testTwoAndThreeRanks() throws {
        let bin = try ProgramRunner.requireBinary()
        guard let mpirun = ProgramRunner.mpirun else { throw XCTSkip("mpirun not installed") }
        for n in [2, 3] {
            let r = try ProgramRunner.run(mpirun, ["-n", "\(n)", bin.path, "check-mpi"])
            XCTAssertEqual(r.status, 0, "n=\(n): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("ranks: \(n);"), r.stdout)
            XCTAssertTrue(r.stdout.contains("ok  broadcast float32 from rank \(n - 1)"), r.stdout)
            XCTAssertEqual(r.stdout.components(separatedBy: "ok  ").count - 1, 7, r.stdout)
        }
    }

    func testThreadsDefaultToCoresPerRank() throws {
        let bin = try ProgramRunner.requireBinary()
        guard let mpirun = ProgramRunner.mpirun else { throw XCTSkip("mpirun not installed") }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "OPENBLAS_NUM_THREADS")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let r = try ProgramRunner.run(mpirun, ["-n", "2", "-x", "OPENBLAS_NUM_THREADS=0", bin.path, "info"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("threads per rank: \(max(1, cores / 2))"), r.stdout)
    }
}
