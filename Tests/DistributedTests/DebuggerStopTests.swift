import Foundation
import XCTest

extension DataParallelTests {
    /// `AUTOSAM_STOP_RANK=1`: rank 1 stops itself (SIGSTOP) before running anything, printing its
    /// pid for a debugger; the job waits for it and finishes once the rank is continued.
    func testStopRankWaitsForADebuggerAndContinues() throws {
        let job = try MPIJob(ranks: 2, ["check-mpi"], binary: bin, mpirun: mpirun, environment: ["AUTOSAM_STOP_RANK": "1"])
        XCTAssertTrue(job.wait(upTo: 120) { job.stderr.contains("rank 1 (pid") && job.stderr.contains("stopped for a debugger") },
                      job.stdout + job.stderr)
        guard let pid = job.rankPIDs()[1] else { return XCTFail("rank 1 not found:\n" + job.stderr) }
        XCTAssertTrue(job.stderr.contains("lldb -p \(pid)"), job.stderr)
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init)
        XCTAssertEqual(state, "T", "rank 1 should be stopped: \(stat)")
        usleep(1_500_000)
        XCTAssertTrue(job.process.isRunning, "the job waits for the stopped rank")
        XCTAssertFalse(job.stdout.contains("ranks: 2;"), "rank 0 cannot finish its checks without rank 1")
        kill(pid, SIGCONT)
        XCTAssertEqual(job.finish(within: 120), 0, job.stdout + job.stderr)
        XCTAssertTrue(job.stdout.contains("ranks: 2;"), job.stdout)
    }
}
