import Foundation
import XCTest
@testable import Training

final class TensorBoardWriterTests: XCTestCase {
    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI) B.4 test vectors.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        let crc: UInt32 = 0xE306_9283
        XCTAssertEqual(CRC32C.masked(Array("123456789".utf8)), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    func testEventFileRecordsDecodeBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try TensorBoardWriter(directory: dir, startStep: 7)
        XCTAssertTrue((w.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents."), w.path)
        try w.step(8, loss: 0.625, learningRate: 3e-4, imagesPerSecond: 12.5)
        try w.epoch(["epoch": 2, "step": 8, "val_dice": 0.75, "train_loss": 0.5], step: 8)
        let other = try TensorBoardWriter(directory: dir, startStep: 0)
        XCTAssertNotEqual(other.path, w.path, "a second writer in the same second needs its own file")

        let records = try Self.records(Array(try Data(contentsOf: URL(fileURLWithPath: w.path))))
        XCTAssertEqual(records.count, 4)
        let events = try records.map(Self.decodeEvent)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[1].step, 7)
        XCTAssertEqual(events[1].sessionStatus, 1, "SessionLog.START")
        XCTAssertEqual(events[2].step, 8)
        XCTAssertEqual(events[2].scalars.map(\.0), ["step/images_per_s", "step/learning_rate", "step/loss"])
        XCTAssertEqual(events[2].scalars.map(\.1), [12.5, Float(3e-4), 0.625])
        XCTAssertEqual(events[3].scalars.map(\.0), ["epoch/epoch", "epoch/train_loss", "epoch/val_dice"])
        XCTAssertEqual(events[3].scalars.map(\.1), [2, 0.5, 0.75])
        XCTAssertEqual(events[3].wallTime, Date().timeIntervalSince1970, accuracy: 60)
    }

    func testCorruptedRecordIsDetected() throws {
        var bytes = Array(TensorBoardWriter.record(TensorBoardEvent(wallTime: 1, step: 2, fileVersion: "x").encoded()))
        XCTAssertEqual(try Self.records(bytes).count, 1)
        bytes[14] ^= 1
        XCTAssertThrowsError(try Self.records(bytes))
    }

    // MARK: an independent reader of the framing and of the Event fields

    struct DecodeError: Error { let what: String }

    /// TFRecord records, each CRC checked.
    static func records(_ b: [UInt8]) throws -> [[UInt8]] {
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) } }
        var out: [[UInt8]] = [], at = 0
        while at < b.count {
            guard at + 12 <= b.count else { throw DecodeError(what: "truncated header at \(at)") }
            let len = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) })
            guard u32(at + 8) == CRC32C.masked(b[at..<(at + 8)]) else { throw DecodeError(what: "length CRC at \(at)") }
            guard at + 12 + len + 4 <= b.count else { throw DecodeError(what: "truncated data at \(at)") }
            let data = Array(b[(at + 12)..<(at + 12 + len)])
            guard u32(at + 12 + len) == CRC32C.masked(data) else { throw DecodeError(what: "data CRC at \(at)") }
            out.append(data)
            at += 16 + len
        }
        return out
    }

    struct Decoded {
        var wallTime = 0.0, step: Int64 = 0, fileVersion: String?, sessionStatus: UInt64?
        var scalars: [(String, Float)] = []
    }

    /// Fields as (number, wire type, varint or fixed value, length-delimited bytes).
    static func fields(_ b: [UInt8]) throws -> [(Int, Int, UInt64, [UInt8])] {
        var at = 0, out: [(Int, Int, UInt64, [UInt8])] = []
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard at < b.count else { throw DecodeError(what: "truncated varint") }
                let byte = b[at]; at += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
        }
        func fixed(_ n: Int) throws -> UInt64 {
            guard at + n <= b.count else { throw DecodeError(what: "truncated fixed field") }
            defer { at += n }
            return (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
        }
        while at < b.count {
            let key = try varint(), field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: out.append((field, wire, try varint(), []))
            case 1: out.append((field, wire, try fixed(8), []))
            case 5: out.append((field, wire, try fixed(4), []))
            case 2:
                let n = Int(try varint())
                guard at + n <= b.count else { throw DecodeError(what: "truncated bytes") }
                out.append((field, wire, 0, Array(b[at..<(at + n)]))); at += n
            default: throw DecodeError(what: "wire type \(wire)")
            }
        }
        return out
    }

    static func decodeEvent(_ b: [UInt8]) throws -> Decoded {
        var e = Decoded()
        for (field, wire, v, bytes) in try fields(b) {
            switch (field, wire) {
            case (1, 1): e.wallTime = Double(bitPattern: v)
            case (2, 0): e.step = Int64(bitPattern: v)
            case (3, 2): e.fileVersion = String(decoding: bytes, as: UTF8.self)
            case (5, 2):
                for (vf, vw, _, value) in try fields(bytes) where vf == 1 && vw == 2 {
                    var tag = "", x: Float = .nan
                    for (f, w, n, s) in try fields(value) {
                        if f == 1 && w == 2 { tag = String(decoding: s, as: UTF8.self) }
                        if f == 2 && w == 5 { x = Float(bitPattern: UInt32(n)) }
                    }
                    e.scalars.append((tag, x))
                }
            case (7, 2): e.sessionStatus = try fields(bytes).first { $0.0 == 1 }?.2
            default: throw DecodeError(what: "unexpected field \(field) wire \(wire)")
            }
        }
        return e
    }
}
