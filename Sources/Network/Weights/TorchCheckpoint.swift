import Foundation

/// A PyTorch `.pth` checkpoint (the zip format of `torch.save`, PyTorch ≥ 1.6, or the legacy
/// format before it: `LegacyTorchFile`), read natively. The file is memory-mapped; the pickle is parsed up front, but tensor data is
/// only converted to Float32 when a tensor is asked for, one tensor at a time.
/// A `{"model": …}` or `{"state_dict": …}` wrapper around the state dict is unwrapped.
public final class TorchCheckpoint: StateDictSource {
    public let path: String
    /// The strings of `_metadata[StateDictMetadata.pthEntry]` (see `StateDictSource`).
    public let metadata: [String: String]
    private let file: MappedFile
    private let bigEndian: Bool
    private let entries: [(key: String, ref: TorchTensorRef)]
    private let index: [String: Int]
    /// Byte ranges in the file of each storage, by storage key; validated at open.
    private let storageRanges: [String: Range<Int>]

    public init(path: String) throws {
        self.path = path
        do {
            file = try MappedFile(path: path)
            let stateDict: PickleDict
            let storageRange: (TorchStorageRef) throws -> Range<Int>
            if LegacyTorchFile.isLegacy(file.bytes) {
                let legacy = try LegacyTorchFile(bytes: file.bytes)
                stateDict = try Self.stateDict(legacy.object)
                bigEndian = legacy.bigEndian
                storageRange = { s in legacy.storageRanges[s.key]! }
            } else {
                let zip = try ZipArchive(bytes: file.bytes)
                let root = try Self.root(of: zip)
                let pickle = try zip.dataRange(of: zip[root + "data.pkl"]!)
                stateDict = try Self.stateDict(Unpickler.load(UnsafeRawBufferPointer(rebasing: file.bytes[pickle])))
                bigEndian = try Self.isBigEndian(zip, root: root, bytes: file.bytes)
                storageRange = { s in try Self.storageRange(s, zip: zip, root: root) }
            }
            metadata = Self.metadata(of: stateDict)

            var entries: [(key: String, ref: TorchTensorRef)] = []
            var index: [String: Int] = [:]
            var ranges: [String: Range<Int>] = [:]
            for (k, v) in stateDict.items {
                guard case let .string(key) = k else {
                    throw CheckpointProblem("state dict has a non-string key (\(k.kind))")
                }
                guard case let .tensor(ref) = v else {
                    throw CheckpointProblem("state dict entry \(key) is a \(v.kind), not a tensor")
                }
                if ranges[ref.storage.key] == nil {
                    ranges[ref.storage.key] = try storageRange(ref.storage)
                }
                try Self.validate(ref, key: key)
                index[key] = entries.count
                entries.append((key, ref))
            }
            self.entries = entries
            self.index = index
            self.storageRanges = ranges
        } catch let p as CheckpointProblem {
            throw TorchCheckpointError(path: path, problem: p.message)
        }
    }

    /// State-dict keys in file order.
    public var keys: [String] { entries.map(\.key) }

    public func shape(_ key: String) -> [Int]? { index[key].map { entries[$0].ref.shape } }

    public func dtype(_ key: String) -> TorchDType? { index[key].map { entries[$0].ref.storage.dtype } }

    /// The tensor as contiguous Float32 (half, bfloat16, double and integer types are converted).
    public func tensor(_ key: String) throws -> Tensor {
        let (ref, range) = try lookup(key)
        defer { file.release(range) }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[range])
        return Tensor(shape: ref.shape, data: StorageReader.floats(raw, ref, bigEndian: bigEndian))
    }

    /// An integer (or bool) tensor's values, flattened in row-major order.
    public func int64s(_ key: String) throws -> [Int64] {
        let (ref, range) = try lookup(key)
        guard !ref.storage.dtype.isFloatingPoint else {
            throw TorchCheckpointError(path: path, problem: "\(key) is a \(ref.storage.dtype) tensor, not an integer tensor")
        }
        defer { file.release(range) }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[range])
        return StorageReader.int64s(raw, ref, bigEndian: bigEndian)
    }

    private func lookup(_ key: String) throws -> (TorchTensorRef, Range<Int>) {
        guard let i = index[key] else {
            throw TorchCheckpointError(path: path, problem: "no tensor named \(key)")
        }
        let ref = entries[i].ref
        return (ref, storageRanges[ref.storage.key]!)
    }

    // MARK: opening

    /// The archive's top folder (`archive/` for current PyTorch), found from its data.pkl.
    private static func root(of zip: ZipArchive) throws -> String {
        for e in zip.entries where e.name.hasSuffix("data.pkl") {
            let parts = e.name.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2, parts[1] == "data.pkl" { return String(parts[0]) + "/" }
        }
        throw CheckpointProblem("zip archive has no <root>/data.pkl: not a PyTorch checkpoint")
    }

    private static func isBigEndian(_ zip: ZipArchive, root: String, bytes: UnsafeRawBufferPointer) throws -> Bool {
        guard let e = zip[root + "byteorder"] else { return false } // files before PyTorch 1.10: little
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[try zip.dataRange(of: e)]), as: UTF8.self)
        switch text.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "little": return false
        case "big": return true
        case let other: throw CheckpointProblem("unknown byteorder \"\(other)\"")
        }
    }

    /// The state dict inside the pickle result, unwrapping `{"model": …}` / `{"state_dict": …}`.
    private static func stateDict(_ value: PickleValue) throws -> PickleDict {
        guard case var .dict(d) = value else {
            throw CheckpointProblem("checkpoint holds a \(value.kind), not a state dict")
        }
        while !d.items.contains(where: { if case .tensor = $0.value { return true }; return false }) {
            guard case let .dict(inner)? = d["model"] ?? d["state_dict"] else { break }
            d = inner
        }
        return d
    }

    /// `_metadata[pthEntry]` of a BUILD state `{"_metadata": {prefix: {str: value}}}`; ints and
    /// floats are given as text, other values are skipped.
    private static func metadata(of d: PickleDict) -> [String: String] {
        guard case let .dict(state)? = d.state, case let .dict(all)? = state["_metadata"],
              case let .dict(ours)? = all[StateDictMetadata.pthEntry] else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in ours.items {
            guard case let .string(key) = k else { continue }
            switch v {
            case let .string(s): out[key] = s
            case let .int(i): out[key] = String(i)
            case let .float(f): out[key] = String(f)
            default: continue
            }
        }
        return out
    }

    private static func storageRange(_ s: TorchStorageRef, zip: ZipArchive, root: String) throws -> Range<Int> {
        let name = root + "data/" + s.key
        guard let e = zip[name] else { throw CheckpointProblem("storage \(name) is missing from the zip archive") }
        let range = try zip.dataRange(of: e)
        let (need, overflow) = s.numel.multipliedReportingOverflow(by: s.dtype.byteSize)
        guard !overflow, range.count >= need else {
            throw CheckpointProblem("storage \(name) holds \(range.count) bytes; \(s.numel) \(s.dtype) values need \(need)")
        }
        return range.lowerBound..<(range.lowerBound + need)
    }

    /// Checks that the strided view stays inside its storage.
    private static func validate(_ t: TorchTensorRef, key: String) throws {
        guard t.shape.count == t.stride.count else {
            throw CheckpointProblem("\(key): size \(t.shape) and stride \(t.stride) differ in rank")
        }
        guard t.offset >= 0, t.shape.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointProblem("\(key): negative size, stride or offset (size \(t.shape), stride \(t.stride), offset \(t.offset))")
        }
        if t.shape.contains(0) { return }
        var count = 1, last = t.offset, overflow = false
        for (size, stride) in Swift.zip(t.shape, t.stride) {
            let c = count.multipliedReportingOverflow(by: size)
            let step = (size - 1).multipliedReportingOverflow(by: stride)
            let end = last.addingReportingOverflow(step.partialValue)
            overflow = overflow || c.overflow || step.overflow || end.overflow
            count = c.partialValue
            last = end.partialValue
        }
        guard !overflow, count <= Int(Int32.max) * 16 else {
            throw CheckpointProblem("\(key): size \(t.shape) with stride \(t.stride) is impossibly large")
        }
        guard last < t.storage.numel else {
            throw CheckpointProblem("\(key): view (offset \(t.offset), size \(t.shape), stride \(t.stride)) reaches element \(last) of a \(t.storage.numel)-element storage")
        }
    }
}
