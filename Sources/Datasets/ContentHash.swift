/// A 128-bit content hash (two independent 64-bit FNV-1a-style lanes with a final mix),
/// used to key cached embeddings by the exact bytes of an image, its augmentation and the
/// encoder's weights. Not cryptographic; collisions at 128 bits are not a practical risk.
public struct ContentHash: Hashable, Sendable, CustomStringConvertible {
    public private(set) var a: UInt64 = 0xCBF2_9CE4_8422_2325
    public private(set) var b: UInt64 = 0x84222325_CBF29CE4

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var x = a, y = b
        // Eight bytes at a time; the tail byte by byte.
        let n = bytes.count / 8
        for i in 0..<n {
            let w = bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
            x = (x ^ w) &* 0x0000_0100_0000_01B3
            y = (y ^ (w &+ 0x9E37_79B9_7F4A_7C15)) &* 0xFF51_AFD7_ED55_8CCD
            y ^= y >> 29
        }
        for i in (n * 8)..<bytes.count {
            x = (x ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01B3
            y = (y ^ UInt64(bytes[i]) &+ 0x632B_E59B_D9B4_E019) &* 0xFF51_AFD7_ED55_8CCD
        }
        // The length separates inputs that are prefixes of each other.
        x = (x ^ UInt64(bytes.count)) &* 0x0000_0100_0000_01B3
        y = (y ^ UInt64(bytes.count)) &* 0xC4CE_B9FE_1A85_EC53
        a = x
        b = y
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    public mutating func update(_ floats: [Float]) { floats.withUnsafeBytes { update($0) } }
    public mutating func update(_ string: String) { update(Array(string.utf8)) }

    public typealias Words = (UInt64, UInt64)
    /// The two lanes, for sending a digest through an integer collective.
    public var words: Words { (a, b) }

    public var hex: String {
        func mix(_ v: UInt64) -> UInt64 {
            var z = v
            z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
            z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
            return z ^ (z >> 33)
        }
        let h1 = String(mix(a ^ (b << 1)), radix: 16), h2 = String(mix(b ^ (a >> 1)), radix: 16)
        return String(repeating: "0", count: 16 - h1.count) + h1 + String(repeating: "0", count: 16 - h2.count) + h2
    }

    public var description: String { hex }

    public static func of(_ bytes: [UInt8]) -> ContentHash {
        var h = ContentHash()
        h.update(bytes)
        return h
    }
}
