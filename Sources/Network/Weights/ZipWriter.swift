/// Writes a zip archive of STORED (uncompressed) members in memory, as `torch.save` does:
/// each member's data starts at a multiple of `alignment` bytes, padded with a local extra
/// field (id "FB", filled with "Z"), so a reader may map tensors in place. No zip64: an
/// archive past 4 GiB is refused.
struct ZipWriter {
    private(set) var bytes: [UInt8] = []
    private var central: [UInt8] = []
    private var count = 0
    let alignment: Int

    init(alignment: Int = 64) { self.alignment = alignment }

    mutating func add(_ name: String, _ data: [UInt8]) throws {
        let nameBytes = Array(name.utf8)
        let offset = bytes.count
        let start = offset + 30 + nameBytes.count + 4
        let pad = (alignment - start % alignment) % alignment
        guard start + pad + data.count < 0xFFFF_FFFF, nameBytes.count < 0xFFFF else {
            throw CheckpointProblem("zip archive would exceed 4 GiB (zip64 is not written)")
        }
        let crc = CRC32.checksum(data)
        // Local file header: version 1.0, no flags, stored, date 1980-01-01.
        put32(&bytes, 0x0403_4b50); put16(&bytes, 10); put16(&bytes, 0); put16(&bytes, 0)
        put16(&bytes, 0); put16(&bytes, 0x21)
        put32(&bytes, crc); put32(&bytes, UInt32(data.count)); put32(&bytes, UInt32(data.count))
        put16(&bytes, UInt16(nameBytes.count)); put16(&bytes, UInt16(4 + pad))
        bytes += nameBytes
        put16(&bytes, 0x4246); put16(&bytes, UInt16(pad))
        bytes += [UInt8](repeating: 0x5A, count: pad)
        bytes += data
        // Central directory record.
        put32(&central, 0x0201_4b50); put16(&central, 20); put16(&central, 10); put16(&central, 0); put16(&central, 0)
        put16(&central, 0); put16(&central, 0x21)
        put32(&central, crc); put32(&central, UInt32(data.count)); put32(&central, UInt32(data.count))
        put16(&central, UInt16(nameBytes.count)); put16(&central, 0); put16(&central, 0)
        put16(&central, 0); put16(&central, 0); put32(&central, 0); put32(&central, UInt32(offset))
        central += nameBytes
        count += 1
    }

    /// The finished archive: members, central directory, end record.
    mutating func finish() throws -> [UInt8] {
        let cdOffset = bytes.count
        guard cdOffset + central.count < 0xFFFF_FFFF, count < 0xFFFF else {
            throw CheckpointProblem("zip archive would exceed 4 GiB or 65535 members (zip64 is not written)")
        }
        var out = bytes + central
        put32(&out, 0x0605_4b50); put16(&out, 0); put16(&out, 0)
        put16(&out, UInt16(count)); put16(&out, UInt16(count))
        put32(&out, UInt32(central.count)); put32(&out, UInt32(cdOffset)); put16(&out, 0)
        return out
    }

    private func put16(_ b: inout [UInt8], _ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    private func put32(_ b: inout [UInt8], _ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
}
