import Foundation
import TestSupport
import XCTest
@testable import Network
import Jobs

/// `bench conv` times the shapes it records from the models: the recorder must see every
/// convolution of a forward pass, and the CLI must print the JSON keys per measurement.
final class BenchConvTests: XCTestCase {
    func testRecorderSeesEveryConvolutionOfG() throws {
        var rng = SeededRNG(seed: 3)
        let recorder = RecordingConvBackend(wrapping: TestContext.standard.convolution)
        let g = PromptGenerator(variant: .hardnet39DS, context: TestContext.standard.with(convolution: recorder), rng: &rng)
        recorder.start()
        _ = try g.forward(Tensor(zeros: [1, 3, 64, 64]), training: false)
        let shapes = recorder.stop()
        // One call per convolution weight in g (every 4-d parameter is a convolution's).
        let convs = g.store.parameters.filter { $0.shape.count == 4 }
        XCTAssertEqual(shapes.map(\.calls).reduce(0, +), convs.count)
        XCTAssertEqual(Set(shapes.map(\.shape)).count, shapes.count, "shapes are listed once")
        // The first is the stem: 3 → 24 channels (39DS), 3×3, stride 2, at the input size.
        let first = shapes[0].shape
        XCTAssertEqual([first.n, first.c, first.h, first.kh, first.stride], [1, 3, 64, 3, 2])
        XCTAssertTrue(shapes.contains { $0.shape.groups > 1 && $0.shape.groups == $0.shape.c }, "depthwise layers")
        XCTAssertFalse(recorder.isRecording)
    }

    func testJSONRowsCarryTheRequiredKeys() throws {
        let bin = try ProgramRunner.requireBinary()
        let r = try ProgramRunner.run(bin.path, ["bench", "conv", "--models", "h", "--batch", "1", "--repeats", "1",
                                                 "--engines", "reference", "--no-reference", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(rows.count, 6, "h has 3 distinct convolutions × forward/backward: \(r.stdout)")
        for row in rows {
            for key in ["shape", "engine", "direction", "seconds", "gflops"] { XCTAssertNotNil(row[key], key) }
            XCTAssertEqual((row["shape"] as? String)?.split(separator: ",").count, 12)
            XCTAssertGreaterThan(row["seconds"] as? Double ?? 0, 0)
        }
        XCTAssertEqual(Set(rows.compactMap { $0["direction"] as? String }), ["forward", "backward"])
    }
}
