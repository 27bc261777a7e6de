import Foundation
import MPIShim
import TestSupport
import Training
import XCTest
@testable import Distributed
@testable import Network

/// Gradient buckets: their layout, when backward lets them start, and the wire formats.
/// (`DataParallelTests.testOverlapOnAndOffGiveTheSameBits` runs them under mpirun.)
final class GradientReducerTests: XCTestCase {
    func generator() -> PromptGenerator {
        var rng = SeededRNG(seed: 3)
        return PromptGenerator(variant: HarDNetVariant.named("hardnet39ds")!, context: TestContext.standard, rng: &rng)
    }

    /// Buckets tile the flat buffer once, from its end (g's last layers) to its start, each cut
    /// at parameter boundaries; the first is about 1 MB, the others about the bucket size.
    func testBucketsTileTheBufferFromItsEnd() {
        let store = generator().store
        let layout = GradientReducer.layout(store.parameters, bucketBytes: 4 << 20)
        XCTAssertGreaterThan(layout.count, 3)
        var end = store.count
        for (i, b) in layout.enumerated() {
            XCTAssertEqual(b.range.upperBound, end, "bucket \(i) ends where the one before it began")
            XCTAssertEqual(b.parameters.map(\.count).reduce(0, +), b.range.count, "bucket \(i) holds whole parameters")
            let bytes = b.range.count * 4
            if i == 0 { XCTAssertGreaterThanOrEqual(bytes, GradientReducer.firstBucketBytes) }
            else if i < layout.count - 1 {
                XCTAssertGreaterThanOrEqual(bytes, 4 << 20)
                XCTAssertLessThan(bytes - b.parameters.last!.count * 4, 4 << 20, "bucket \(i) closes at the first parameter past the size")
            }
            end = b.range.lowerBound
        }
        XCTAssertEqual(end, 0, "the buckets reach the first parameter")
    }

    /// With overlap, each bucket starts during backward only once every gradient in it is final:
    /// what a bucket holds when it starts equals the finished backward's gradients there, and
    /// all but the last-filled buckets start before backward returns.
    func testBucketsStartDuringBackwardWithFinalGradients() throws {
        let g = generator()
        let comm = RecordingGroup()
        let reducer = GradientReducer(store: g.store, comm: comm, settings: .init(overlap: true, bucketBytes: 2 << 20),
                                      timeline: Timeline(enabled: false, rank: 0))
        var rng = SeededRNG(seed: 4)
        let x = Tensor.uniform([2, 3, 64, 64], rng: &rng, lo: 0, hi: 1)
        let (z, cache) = try g.forward(x, training: true)
        reducer.armForBackward()
        try g.backward(Tensor.uniform(z.shape, rng: &rng, lo: -1, hi: 1), cache)
        let duringBackward = comm.started.count
        XCTAssertGreaterThan(duringBackward, reducer.buckets.count / 2, "most buckets start while backward runs")
        let final = g.store.grads
        try reducer.reduce()
        XCTAssertEqual(comm.started.map(\.slot), Array(0..<reducer.buckets.count), "every bucket starts once, in order")
        for s in comm.started {
            let r = reducer.buckets[s.slot]
            XCTAssertEqual(s.values, Array(final[r]), "bucket \(s.slot) started with its final gradients")
        }
        XCTAssertEqual(g.store.grads, final.map { 2 * $0 }, "the sums (this group doubles) come back into the gradients")
        XCTAssertNil(g.store.gradientAccumulated, "reduce disarms the hook")
    }

    /// bf16 and fp16 on the wire round to nearest even, as Swift's own conversions do.
    func testWireFormatsRoundToNearestEven() {
        var rng = SeededRNG(seed: 9)
        var x = (0..<4096).map { _ in (rng.nextUniform() * 2 - 1) * powf(2, Float(Int(rng.next() % 30)) - 20) }
        x += [0, -0, 1e-8, 65504, 1e5, .infinity]
        var f16 = x, bf16 = x
        mpishim_wire_round(&f16, Int64(x.count), Int32(MPISHIM_WIRE_F16))
        mpishim_wire_round(&bf16, Int64(x.count), Int32(MPISHIM_WIRE_BF16))
        for (i, v) in x.enumerated() {
            XCTAssertEqual(f16[i], Float(Float16(v)), "fp16 of \(v)")
            let u = v.bitPattern, rounded = (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000
            XCTAssertEqual(bf16[i].bitPattern, rounded, "bf16 of \(v)")
            if v.isFinite { XCTAssertLessThanOrEqual(abs(bf16[i] - v), abs(v) / 256 + 1e-38, "bf16 keeps 8 significant bits") }
        }
    }

    /// Settings from the config; a compression on Open MPI's all-reduce is refused.
    func testConfigKeys() throws {
        let c = try TrainConfig.parse("distributed: {overlap: false, bucket_mb: 4, allreduce: mpi}")
        let s = GradientReducer.Settings(c.distributed)
        XCTAssertEqual(s.overlap, false)
        XCTAssertEqual(s.bucketBytes, 4 << 20)
        XCTAssertEqual(s.transport, .mpi)
        XCTAssertThrowsError(try TrainConfig.parse("distributed: {allreduce: mpi, compression: fp16}")) {
            XCTAssertTrue("\($0)".contains("needs distributed.allreduce: ring"), "\($0)")
        }
        XCTAssertThrowsError(try TrainConfig.parse("distributed: {compression: fp8}"))
        XCTAssertThrowsError(try TrainConfig.parse("distributed: {bucket_mb: 0}"))
    }
}

/// A group of two whose gradient sums double each bucket when it starts, keeping a copy of
/// what each bucket held then.
final class RecordingGroup: StubGroup {
    var started: [(slot: Int, values: [Float])] = []
    init() { super.init(size: 2) }
    override func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { for i in buffer.indices { buffer[i] *= 2 } }
    override func startGradientSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int, transport: GradientTransport,
                                   compression: GradientCompression) throws {
        started.append((slot, Array(buffer)))
        try allReduceSum(buffer)
    }
}
