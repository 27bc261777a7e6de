/// The legacy `torch.save` format (PyTorch < 1.6, still how torchvision's older ImageNet
/// checkpoints ship): five pickles back to back — magic number, protocol version 1001, system
/// info, the object, the list of storage keys — then each storage in that order as a
/// little-endian int64 element count followed by its raw bytes.
struct LegacyTorchFile {
    /// The pickled magic number 0x1950a86a20f9469cfc6c (protocol 2, LONG1 of 10 bytes, STOP).
    static let magic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
    static let protocolVersion: Int64 = 1001

    let object: PickleValue
    let bigEndian: Bool
    /// Byte ranges of each storage's data, by storage key.
    let storageRanges: [String: Range<Int>]

    static func isLegacy(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= magic.count && zip(bytes.prefix(magic.count), magic).allSatisfy { $0 == $1 }
    }

    /// Parses the pickles and checks that every storage the object refers to is there, whole,
    /// with the element count its reference gives.
    init(bytes: UnsafeRawBufferPointer) throws {
        var pos = Self.magic.count
        func next(_ what: String) throws -> PickleValue {
            guard pos < bytes.count else { throw CheckpointProblem("legacy checkpoint ends before its \(what)") }
            do {
                let (v, n) = try Unpickler.loadPrefix(UnsafeRawBufferPointer(rebasing: bytes[pos...]))
                pos += n
                return v
            } catch let p as CheckpointProblem {
                throw CheckpointProblem("legacy checkpoint, \(what): \(p.message)")
            }
        }
        guard case let .int(version) = try next("protocol version"), version == Self.protocolVersion else {
            throw CheckpointProblem("legacy checkpoint with an unknown protocol version (want \(Self.protocolVersion))")
        }
        guard case let .dict(info) = try next("system info") else {
            throw CheckpointProblem("legacy checkpoint's system info is not a dict")
        }
        if case let .bool(little)? = info["little_endian"] { bigEndian = !little } else { bigEndian = false }
        object = try next("state dict")
        guard case let .list(keys) = try next("storage key list") else {
            throw CheckpointProblem("legacy checkpoint's storage key list is not a list")
        }
        var numels: [String: Int] = [:], dtypes: [String: TorchDType] = [:]
        Self.collectStorages(object) { s in numels[s.key] = s.numel; dtypes[s.key] = s.dtype }
        var ranges: [String: Range<Int>] = [:]
        for k in keys.items {
            guard case let .string(key) = k else { throw CheckpointProblem("legacy checkpoint's storage key is a \(k.kind)") }
            guard let numel = numels[key], let dtype = dtypes[key] else {
                throw CheckpointProblem("legacy checkpoint lists storage \(key), which no tensor uses")
            }
            guard pos + 8 <= bytes.count else { throw CheckpointProblem("legacy checkpoint is truncated at storage \(key)") }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(bytes[pos + i]) << (8 * (bigEndian ? 7 - i : i)) }
            pos += 8
            guard count == UInt64(numel) else {
                throw CheckpointProblem("legacy checkpoint's storage \(key) holds \(count) elements; its tensors say \(numel)")
            }
            let (need, overflow) = numel.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, pos + need <= bytes.count else {
                throw CheckpointProblem("legacy checkpoint is truncated: storage \(key) needs \(need) bytes at offset \(pos), the file has \(bytes.count)")
            }
            ranges[key] = pos..<(pos + need)
            pos += need
        }
        for key in numels.keys where ranges[key] == nil {
            throw CheckpointProblem("legacy checkpoint has no data for storage \(key)")
        }
        storageRanges = ranges
    }

    private static func collectStorages(_ v: PickleValue, _ visit: (TorchStorageRef) -> Void) {
        switch v {
        case let .tensor(t): visit(t.storage)
        case let .storage(s): visit(s)
        case let .dict(d): for (k, x) in d.items { collectStorages(k, visit); collectStorages(x, visit) }
        case let .list(l): for x in l.items { collectStorages(x, visit) }
        case let .tuple(t): for x in t { collectStorages(x, visit) }
        default: return
        }
    }
}
