import Datasets
import Foundation
import Network

/// What an image embedding depends on: the image's bytes, the augmentation applied to it,
/// and the encoder's weights. All three are part of the key and are stored in the entry,
/// and a read checks them in full, so an entry can never be served for another input.
public struct EmbeddingKey: Hashable, Sendable {
    public var image: ContentHash
    public var augmentation: String
    public var encoder: String

    public init(image: ContentHash, augmentation: String, encoder: String) {
        self.image = image
        self.augmentation = augmentation
        self.encoder = encoder
    }

    var material: String { "image=\(image.hex);aug=\(augmentation);encoder=\(encoder)" }
}

/// How cached embeddings are stored: float32 (4 MB per LiteMedSAM embedding) or float16
/// (2 MB; the value read back is the float16 rounding, on a miss as on a hit).
public enum CachePrecision: String, Codable, Sendable, CaseIterable {
    case float32, float16
    var bytes: Int { self == .float32 ? 4 : 2 }
}

/// Frozen-encoder outputs on disk, one file per (image, augmentation, encoder, precision), read
/// back memory-mapped. The encoder is the most expensive part of a step and its output depends
/// only on the key, so each distinct input is encoded once. Entries are written atomically,
/// so ranks sharing a directory never read a partial entry.
public final class EmbeddingCache {
    public let directory: String
    public let precision: CachePrecision
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var rejected = 0
    private var magic: [UInt8] { Array((precision == .float32 ? "ASEC0001" : "ASEC0002").utf8) }

    public init(directory: String, precision: CachePrecision = .float32) throws {
        self.directory = directory
        self.precision = precision
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: directory, problem: "cannot create the embedding cache directory: \(error.localizedDescription)")
        }
    }

    /// float32 entries keep the original key material, so caches written before the choice
    /// existed stay valid.
    func material(_ key: EmbeddingKey) -> String {
        precision == .float32 ? key.material : key.material + ";precision=\(precision.rawValue)"
    }

    public func path(for key: EmbeddingKey) -> String {
        var h = ContentHash()
        h.update(material(key))
        return directory + "/" + h.hex + ".emb"
    }

    /// Whether an entry of the right size exists (without reading it: for filling the cache).
    public func contains(_ key: EmbeddingKey, count: Int) -> Bool {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path(for: key)),
              let size = a[.size] as? Int else { return false }
        return size == headerSize(key, rank: 3) + count * precision.bytes
    }

    func headerSize(_ key: EmbeddingKey, rank: Int) -> Int { magic.count + 4 + material(key).utf8.count + 4 + 4 * rank }

    /// The cached embedding, or nil (a missing, foreign or damaged entry is a miss).
    public func lookup(_ key: EmbeddingKey) -> Tensor? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path(for: key)), options: .alwaysMapped) else {
            misses += 1
            return nil
        }
        guard let t = decode(data, key: key) else {
            rejected += 1
            misses += 1
            return nil
        }
        hits += 1
        return t
    }

    public func store(_ key: EmbeddingKey, _ embedding: Tensor) throws {
        var d = Data(magic)
        let mat = Array(material(key).utf8)
        appendU32(&d, UInt32(mat.count))
        d.append(contentsOf: mat)
        appendU32(&d, UInt32(embedding.shape.count))
        for s in embedding.shape { appendU32(&d, UInt32(s)) }
        switch precision {
        case .float32: embedding.data.withUnsafeBytes { d.append(contentsOf: $0) }
        case .float16: embedding.data.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { d.append(contentsOf: $0) }
        }
        try AtomicFile.write(d, to: path(for: key))
    }

    /// The embedding for `key`, computing and storing it on a miss. A computed embedding is
    /// returned as stored, so a cold run and a warm one see the same values.
    public func embedding(_ key: EmbeddingKey, compute: () throws -> Tensor) throws -> Tensor {
        if let t = lookup(key) { return t }
        let t = try compute()
        try store(key, t)
        return precision == .float16 ? Tensor(shape: t.shape, data: t.data.map { Float(Float16($0)) }) : t
    }

    private func decode(_ d: Data, key: EmbeddingKey) -> Tensor? {
        var off = 0
        func u32() -> UInt32? {
            guard off + 4 <= d.count else { return nil }
            let v = d[d.startIndex + off..<d.startIndex + off + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            off += 4
            return UInt32(littleEndian: v)
        }
        guard d.count >= magic.count, Array(d.prefix(magic.count)) == magic else { return nil }
        off = magic.count
        guard let ml = u32(), off + Int(ml) <= d.count else { return nil }
        let mat = String(decoding: d[d.startIndex + off..<d.startIndex + off + Int(ml)], as: UTF8.self)
        off += Int(ml)
        guard mat == material(key), let rank = u32(), rank <= 8 else { return nil }
        var shape: [Int] = []
        for _ in 0..<rank { guard let s = u32() else { return nil }; shape.append(Int(s)) }
        let n = shape.reduce(1, *), width = precision.bytes
        guard d.count == off + n * width else { return nil }
        let body = (d.startIndex + off)..<(d.startIndex + off + n * width)
        var vals = [Float](repeating: 0, count: n)
        switch precision {
        case .float32:
            _ = vals.withUnsafeMutableBytes { d.copyBytes(to: $0, from: body) }
        case .float16:
            d[body].withUnsafeBytes { raw in
                vals.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n {
                        out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    }
                }
            }
        }
        return Tensor(shape: shape, data: vals)
    }

    private func appendU32(_ d: inout Data, _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) }
    }
}
