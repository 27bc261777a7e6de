import Foundation

/// Copies a strided view of a raw storage into contiguous row-major arrays, converting
/// the element type. Bounds were checked when the checkpoint was opened.
enum StorageReader {
    static func floats(_ raw: UnsafeRawBufferPointer, _ t: TorchTensorRef, bigEndian: Bool) -> [Float] {
        let n = t.shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        guard n > 0 else { return out }
        let contiguous = isContiguous(t)
        out.withUnsafeMutableBufferPointer { dst in
            if contiguous, t.storage.dtype == .float32, !bigEndian {
                // Fast path: one copy straight from the mapped file.
                memcpy(dst.baseAddress!, raw.baseAddress! + t.offset * 4, n * 4)
                return
            }
            var i = 0
            forEachIndex(t, contiguous: contiguous) { e in
                dst[i] = element(raw, e, t.storage.dtype, bigEndian)
                i += 1
            }
        }
        return out
    }

    static func int64s(_ raw: UnsafeRawBufferPointer, _ t: TorchTensorRef, bigEndian: Bool) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(t.shape.reduce(1, *))
        forEachIndex(t, contiguous: isContiguous(t)) { e in
            out.append(integer(raw, e, t.storage.dtype, bigEndian))
        }
        return out
    }

    static func isContiguous(_ t: TorchTensorRef) -> Bool {
        var expected = 1
        for d in stride(from: t.shape.count - 1, through: 0, by: -1) where t.shape[d] != 1 {
            if t.stride[d] != expected { return false }
            expected *= t.shape[d]
        }
        return true
    }

    /// Calls `body` with the storage element index of each tensor element, in row-major order.
    private static func forEachIndex(_ t: TorchTensorRef, contiguous: Bool, _ body: (Int) -> Void) {
        let n = t.shape.reduce(1, *)
        guard n > 0 else { return }
        if contiguous {
            for e in t.offset..<(t.offset + n) { body(e) }
            return
        }
        let rank = t.shape.count
        var idx = [Int](repeating: 0, count: rank)
        var e = t.offset
        for _ in 0..<n {
            body(e)
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1
                e += t.stride[d]
                if idx[d] < t.shape[d] { break }
                e -= t.stride[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
        }
    }

    private static func load<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ e: Int, _: T.Type, _ big: Bool) -> T {
        let v = raw.loadUnaligned(fromByteOffset: e * MemoryLayout<T>.size, as: T.self)
        return big ? T(bigEndian: v) : T(littleEndian: v)
    }

    private static func element(_ raw: UnsafeRawBufferPointer, _ e: Int, _ dtype: TorchDType, _ big: Bool) -> Float {
        switch dtype {
        case .float32: return Float(bitPattern: load(raw, e, UInt32.self, big))
        case .float64: return Float(Double(bitPattern: load(raw, e, UInt64.self, big)))
        case .float16: return halfToFloat(load(raw, e, UInt16.self, big))
        case .bfloat16: return Float(bitPattern: UInt32(load(raw, e, UInt16.self, big)) << 16)
        default: return Float(integer(raw, e, dtype, big))
        }
    }

    private static func integer(_ raw: UnsafeRawBufferPointer, _ e: Int, _ dtype: TorchDType, _ big: Bool) -> Int64 {
        switch dtype {
        case .int64: return load(raw, e, Int64.self, big)
        case .int32: return Int64(load(raw, e, Int32.self, big))
        case .int16: return Int64(load(raw, e, Int16.self, big))
        case .int8: return Int64(Int8(bitPattern: raw[e]))
        case .uint8: return Int64(raw[e])
        case .bool: return raw[e] != 0 ? 1 : 0
        case .float32, .float64, .float16, .bfloat16: return 0 // callers route floats elsewhere
        }
    }

    /// IEEE binary16 → binary32, exact for every value (subnormals, infinities, NaN).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1f)
        let mant = UInt32(h & 0x3ff)
        if exp == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
        if exp == 0 {
            let magnitude = Float(mant) * 0x1p-24 // subnormal (or zero)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }
}
