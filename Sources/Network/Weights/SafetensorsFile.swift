import Foundation

/// A `.safetensors` file, memory-mapped; the header is checked when it is opened (every
/// tensor's byte range inside the data, sized for its dtype and shape), tensors are
/// converted to Float32 when asked for.
public final class SafetensorsFile: StateDictSource {
    public let path: String
    public let metadata: [String: String]
    public let keys: [String]
    private let file: MappedFile
    private let refs: [String: (ref: TorchTensorRef, range: Range<Int>)]

    public init(path: String) throws {
        self.path = path
        do {
            file = try MappedFile(path: path)
            (keys, refs, metadata) = try Self.parse(file.bytes)
        } catch let p as CheckpointProblem {
            throw TorchCheckpointError(path: path, problem: p.message)
        }
    }

    public func shape(_ key: String) -> [Int]? { refs[key]?.ref.shape }
    public func dtype(_ key: String) -> TorchDType? { refs[key]?.ref.storage.dtype }

    public func tensor(_ key: String) throws -> Tensor {
        let (ref, range) = try lookup(key)
        defer { file.release(range) }
        return Tensor(shape: ref.shape, data: StorageReader.floats(UnsafeRawBufferPointer(rebasing: file.bytes[range]), ref, bigEndian: false))
    }

    public func int64s(_ key: String) throws -> [Int64] {
        let (ref, range) = try lookup(key)
        guard !ref.storage.dtype.isFloatingPoint else {
            throw TorchCheckpointError(path: path, problem: "\(key) is a \(ref.storage.dtype) tensor, not an integer tensor")
        }
        return StorageReader.int64s(UnsafeRawBufferPointer(rebasing: file.bytes[range]), ref, bigEndian: false)
    }

    private func lookup(_ key: String) throws -> (TorchTensorRef, Range<Int>) {
        guard let r = refs[key] else { throw TorchCheckpointError(path: path, problem: "no tensor named \(key)") }
        return r
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer) throws
        -> ([String], [String: (ref: TorchTensorRef, range: Range<Int>)], [String: String]) {
        let n64 = try bytes.le(UInt64.self, at: 0, "safetensors header length (the file is empty or truncated)")
        guard n64 <= UInt64(SafetensorsFormat.maxHeader), Int(n64) <= bytes.count - 8 else {
            throw CheckpointProblem("safetensors header length \(n64) exceeds the \(bytes.count)-byte file (truncated, or not a safetensors file)")
        }
        let n = Int(n64)
        let headerBytes = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + n)]))
        guard let object = try? JSONSerialization.jsonObject(with: headerBytes), let header = object as? [String: Any] else {
            throw CheckpointProblem("safetensors header is not a JSON object")
        }
        let dataStart = 8 + n, dataCount = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var found: [(key: String, ref: TorchTensorRef, range: Range<Int>)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let m = value as? [String: String] else { throw CheckpointProblem("__metadata__ must map strings to strings") }
                metadata = m
                continue
            }
            guard let t = value as? [String: Any], let dt = t["dtype"] as? String, let shape = t["shape"] as? [Int],
                  let offs = t["data_offsets"] as? [Int], offs.count == 2 else {
                throw CheckpointProblem("\(key): header entry needs dtype, shape and data_offsets [begin, end]")
            }
            guard let dtype = SafetensorsFormat.dtypes[dt] else { throw CheckpointProblem("\(key): unsupported dtype \(dt)") }
            guard shape.allSatisfy({ $0 >= 0 && $0 < Int(Int32.max) }) else { throw CheckpointProblem("\(key): bad shape \(shape)") }
            var numel = 1, bytes = dtype.byteSize, overflow = false
            for d in shape {
                let m = numel.multipliedReportingOverflow(by: d)
                numel = m.partialValue
                overflow = overflow || m.overflow
            }
            let b = numel.multipliedReportingOverflow(by: bytes)
            bytes = b.partialValue
            guard !overflow, !b.overflow, offs[0] >= 0, offs[0] <= offs[1], offs[1] - offs[0] == bytes else {
                throw CheckpointProblem("\(key): data_offsets \(offs) do not hold \(numel) \(dtype) values of shape \(shape)")
            }
            guard offs[1] <= dataCount else {
                throw CheckpointProblem("\(key): data (bytes \(offs[0])..<\(offs[1])) runs past the end of the file's \(dataCount) data bytes (truncated)")
            }
            var stride = [Int](repeating: 1, count: shape.count)
            for d in Swift.stride(from: shape.count - 2, through: 0, by: -1) { stride[d] = stride[d + 1] * shape[d + 1] }
            let ref = TorchTensorRef(storage: TorchStorageRef(key: key, dtype: dtype, numel: numel), offset: 0, shape: shape, stride: stride)
            found.append((key, ref, (dataStart + offs[0])..<(dataStart + offs[1])))
        }
        found.sort { ($0.range.lowerBound, $0.key) < ($1.range.lowerBound, $1.key) }
        var refs: [String: (ref: TorchTensorRef, range: Range<Int>)] = [:]
        for f in found { refs[f.key] = (f.ref, f.range) }
        return (found.map(\.key), refs, metadata)
    }
}
