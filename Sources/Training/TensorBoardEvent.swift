import Foundation

/// A TensorBoard `Event` protobuf (tensorflow/core/util/event.proto), encoded by hand: the few
/// fields a scalar log needs. Field numbers: wall_time 1 (double), step 2 (int64),
/// file_version 3 (string), summary 5 (Summary), session_log 7 (SessionLog; 6 is the deprecated log_message).
public struct TensorBoardEvent: Equatable, Sendable {
    public var wallTime: Double
    public var step: Int64
    public var fileVersion: String?
    public struct Scalar: Equatable, Sendable {
        public var tag: String
        public var value: Float
        public init(_ tag: String, _ value: Float) { self.tag = tag; self.value = value }
    }
    /// Summary.Value entries: tag (field 1) and simple_value (field 2, float).
    public var scalars: [Scalar]
    /// SessionLog.START (status field 1 = 1): readers drop earlier events at steps ≥ `step`.
    public var sessionStart: Bool

    public init(wallTime: Double, step: Int64, fileVersion: String? = nil, scalars: [Scalar] = [],
                sessionStart: Bool = false) {
        self.wallTime = wallTime
        self.step = step
        self.fileVersion = fileVersion
        self.scalars = scalars
        self.sessionStart = sessionStart
    }

    public func encoded() -> [UInt8] {
        var out = Protobuf()
        out.fixed64(field: 1, wallTime.bitPattern)
        out.varint(field: 2, UInt64(bitPattern: step))
        if let v = fileVersion { out.bytes(field: 3, Array(v.utf8)) }
        if !scalars.isEmpty {
            var summary = Protobuf()
            for s in scalars {
                var value = Protobuf()
                value.bytes(field: 1, Array(s.tag.utf8))
                value.fixed32(field: 2, s.value.bitPattern)
                summary.bytes(field: 1, value.data)
            }
            out.bytes(field: 5, summary.data)
        }
        if sessionStart {
            var log = Protobuf()
            log.varint(field: 1, 1)
            out.bytes(field: 7, log.data)
        }
        return out.data
    }
}

/// Protobuf wire format, writing only: a key is (field << 3) | wire type.
struct Protobuf {
    var data: [UInt8] = []

    mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { data.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        data.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    mutating func varint(field: Int, _ v: UInt64) { key(field, 0); rawVarint(v) }

    mutating func fixed64(field: Int, _ v: UInt64) {
        key(field, 1)
        for i in 0..<8 { data.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    mutating func bytes(field: Int, _ b: [UInt8]) { key(field, 2); rawVarint(UInt64(b.count)); data += b }

    mutating func fixed32(field: Int, _ v: UInt32) {
        key(field, 5)
        for i in 0..<4 { data.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
}
