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

    var fileName: String {
        var h = ContentHash()
        h.update(material)
        return h.hex + ".emb"
    }
}

/// Frozen-encoder outputs on disk, one file per (image, augmentation, encoder), read back
/// memory-mapped. The encoder is the most expensive part of a step and its output depends
/// only on the key, so each distinct input is encoded once. Entries are written atomically,
/// so ranks sharing a directory never read a partial entry.
public final class EmbeddingCache {
    public let directory: String
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var rejected = 0
    private let magic: [UInt8] = Array("ASEC0001".utf8)

    public init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: directory, problem: "cannot create the embedding cache directory: \(error.localizedDescription)")
        }
    }

    public func path(for key: EmbeddingKey) -> String { directory + "/" + key.fileName }

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
        let mat = Array(key.material.utf8)
        appendU32(&d, UInt32(mat.count))
        d.append(contentsOf: mat)
        appendU32(&d, UInt32(embedding.shape.count))
        for s in embedding.shape { appendU32(&d, UInt32(s)) }
        embedding.data.withUnsafeBytes { d.append(contentsOf: $0) }
        try AtomicFile.write(d, to: path(for: key))
    }

    /// The embedding for `key`, computing and storing it on a miss.
    public func embedding(_ key: EmbeddingKey, compute: () throws -> Tensor) throws -> Tensor {
        if let t = lookup(key) { return t }
        let t = try compute()
        try store(key, t)
        return t
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
        guard mat == key.material, let rank = u32(), rank <= 8 else { return nil }
        var shape: [Int] = []
        for _ in 0..<rank { guard let s = u32() else { return nil }; shape.append(Int(s)) }
        let n = shape.reduce(1, *)
        guard d.count == off + n * 4 else { return nil }
        var vals = [Float](repeating: 0, count: n)
        _ = vals.withUnsafeMutableBytes { d.copyBytes(to: $0, from: (d.startIndex + off)..<(d.startIndex + off + n * 4)) }
        return Tensor(shape: shape, data: vals)
    }

    private func appendU32(_ d: inout Data, _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) }
    }
}
