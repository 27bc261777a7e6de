import Foundation
import XCTest
@testable import Datasets

final class SHA256Tests: XCTestCase {
    func digest(_ s: String) -> String {
        var h = SHA256()
        h.update(Array(s.utf8))
        return SHA256.hex(h.finish())
    }

    /// FIPS 180-4 test vectors, and a message split across updates at awkward places.
    func testKnownVectors() {
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var h = SHA256()
        var off = 0
        for piece in [1, 63, 64, 65, 127, 4096, 999_000] where off < million.count {
            let n = min(piece, million.count - off)
            million[off..<(off + n)].withUnsafeBytes { h.update($0) }
            off += n
        }
        million[off...].withUnsafeBytes { h.update($0) }
        XCTAssertEqual(SHA256.hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testFileDigestAndMissingFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)").path
        try Data("abc".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertEqual(try SHA256.file(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertThrowsError(try SHA256.file(path + ".missing")) { e in
            XCTAssertTrue("\(e)".contains(path + ".missing"), "\(e)")
        }
    }
}
