/// Bounds-checked little-endian reads from a raw byte buffer; reading past the end is a
/// `CheckpointProblem` naming `what`, never a crash.
extension UnsafeRawBufferPointer {
    func le<T: FixedWidthInteger>(_: T.Type, at offset: Int, _ what: @autoclosure () -> String) throws -> T {
        guard offset >= 0, offset <= count - MemoryLayout<T>.size else {
            throw CheckpointProblem("\(what()) runs past the end of the data (offset \(offset), \(count) bytes)")
        }
        return T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    func bytes(at offset: Int, count n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, n >= 0, offset <= count - n else {
            throw CheckpointProblem("\(what()) runs past the end of the data (offset \(offset), length \(n), \(count) bytes)")
        }
        return UnsafeRawBufferPointer(rebasing: self[offset..<(offset + n)])
    }
}
