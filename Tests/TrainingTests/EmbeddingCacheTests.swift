import Datasets
import Foundation
import XCTest
@testable import Network
@testable import Training

final class EmbeddingCacheTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("emb-\(UUID().uuidString)").path
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func key(_ image: [UInt8], aug: String = "none", encoder: String = "enc-A") -> EmbeddingKey {
        EmbeddingKey(image: .of(image), augmentation: aug, encoder: encoder)
    }

    func testRoundTripAndCounts() throws {
        let cache = try EmbeddingCache(directory: dir)
        let t = Tensor(shape: [2, 3, 4], data: (0..<24).map { Float($0) * 0.5 })
        var computed = 0
        let a = try cache.embedding(key([1, 2, 3])) { computed += 1; return t }
        let b = try cache.embedding(key([1, 2, 3])) { computed += 1; return Tensor(zeros: [2, 3, 4]) }
        XCTAssertEqual(a, t)
        XCTAssertEqual(b, t)
        XCTAssertEqual(computed, 1)
        XCTAssertEqual(cache.hits, 1)
        XCTAssertEqual(cache.misses, 1)
    }

    func testNeverServesAnotherImageAugmentationOrEncoder() throws {
        let cache = try EmbeddingCache(directory: dir)
        try cache.store(key([1, 2, 3]), Tensor(shape: [2], data: [1, 1]))
        XCTAssertNil(cache.lookup(key([1, 2, 4])), "different image bytes")
        XCTAssertNil(cache.lookup(key([1, 2, 3, 0])), "image bytes with a trailing zero")
        XCTAssertNil(cache.lookup(key([1, 2, 3], aug: "rot=3.0;scale=1.0;flipH=0;flipV=0")), "different augmentation")
        XCTAssertNil(cache.lookup(key([1, 2, 3], encoder: "enc-B")), "different encoder weights")
        XCTAssertNotNil(cache.lookup(key([1, 2, 3])))
        // Even an entry copied under another key's file name is refused: the key is stored and checked.
        let other = key([9, 9, 9])
        try FileManager.default.copyItem(atPath: cache.path(for: key([1, 2, 3])), toPath: cache.path(for: other))
        XCTAssertNil(cache.lookup(other))
        XCTAssertEqual(cache.rejected, 1)
    }

    func testDamagedEntryIsAMissNotACrash() throws {
        let cache = try EmbeddingCache(directory: dir)
        let k = key([7])
        try cache.store(k, Tensor(shape: [64], repeating: 2))
        let p = cache.path(for: k)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: p))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: p))
        XCTAssertNil(cache.lookup(k))
        let t = try cache.embedding(k) { Tensor(shape: [64], repeating: 3) }
        XCTAssertEqual(t.data[0], 3)
        XCTAssertEqual(cache.lookup(k)?.data[0], 3)
    }

    /// float16 entries: half the bytes, the float16 rounding served on a miss as on a hit (so a
    /// cold run equals a warm one), and never mixed up with float32 entries of the same key.
    func testFloat16EntriesAreHalfSizeAndServeTheSameRoundingColdAndWarm() throws {
        let half = try EmbeddingCache(directory: dir, precision: .float16)
        let full = try EmbeddingCache(directory: dir, precision: .float32)
        let t = Tensor(shape: [4, 8, 8], data: (0..<256).map { Float($0) * 0.013 - 1.3 })
        let cold = try half.embedding(key([5])) { t }
        let warm = try half.embedding(key([5])) { XCTFail("must be a hit"); return t }
        XCTAssertEqual(cold.data.map(\.bitPattern), warm.data.map(\.bitPattern))
        XCTAssertEqual(cold.data, t.data.map { Float(Float16($0)) })
        XCTAssertNotEqual(cold.data, t.data, "float16 rounds these values")
        let worst = zip(cold.data, t.data).map { abs($0 - $1) / max(abs($1), 1e-3) }.max()!
        XCTAssertLessThanOrEqual(worst, 1.0 / 2048)
        XCTAssertTrue(half.contains(key([5]), count: 256))
        XCTAssertFalse(full.contains(key([5]), count: 256))
        XCTAssertNil(full.lookup(key([5])), "a float32 cache must not read a float16 entry")
        try full.store(key([5]), t)
        let a32 = try FileManager.default.attributesOfItem(atPath: full.path(for: key([5])))[.size] as! Int
        let a16 = try FileManager.default.attributesOfItem(atPath: half.path(for: key([5])))[.size] as! Int
        XCTAssertEqual(a32 - a16, 256 * 2 - ";precision=float16".utf8.count, "2 bytes less per value; the key notes the precision")
        XCTAssertEqual(full.lookup(key([5]))?.data, t.data)
    }
}
