/// One member of a zip archive, from its central-directory record.
struct ZipEntry {
    let name: String
    let method: UInt16
    let flags: UInt16
    let compressedSize: Int
    let size: Int
    let localHeaderOffset: Int
}

/// The central directory of a zip archive held in memory (a memory map): enough to find
/// the byte range of each stored member. Supports zip64 end records and extra fields.
/// Nothing is decompressed: PyTorch writes every member STORED.
struct ZipArchive {
    let entries: [ZipEntry]
    private let byName: [String: Int]
    private let bytes: UnsafeRawBufferPointer

    private static let eocdSignature: UInt32 = 0x0605_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let zip64EOCDSignature: UInt32 = 0x0606_4b50
    private static let centralSignature: UInt32 = 0x0201_4b50
    private static let localSignature: UInt32 = 0x0403_4b50

    init(bytes: UnsafeRawBufferPointer) throws {
        self.bytes = bytes
        let isZipStart = bytes.count >= 4 && (try? bytes.le(UInt32.self, at: 0, "")) == Self.localSignature
        guard let eocd = Self.findEOCD(bytes) else {
            if isZipStart {
                throw CheckpointProblem("zip archive is truncated or damaged: no end-of-central-directory record")
            }
            if bytes.first == 0x80 {
                throw CheckpointProblem("not a zip archive, and not a legacy (pre-1.6) torch.save file either: its magic number is damaged or cut short")
            }
            throw CheckpointProblem("not a zip archive (a PyTorch .pth checkpoint is a zip file)")
        }
        var count = Int(try bytes.le(UInt16.self, at: eocd + 10, "end-of-central-directory record"))
        var cdSize = Int(try bytes.le(UInt32.self, at: eocd + 12, "end-of-central-directory record"))
        var cdOffset = Int(try bytes.le(UInt32.self, at: eocd + 16, "end-of-central-directory record"))

        // Zip64: a locator sits right before the classic record and points at the zip64 one.
        let locator = eocd - 20
        if locator >= 0, (try? bytes.le(UInt32.self, at: locator, "")) == Self.zip64LocatorSignature {
            let z = Int(clamping: try bytes.le(UInt64.self, at: locator + 8, "zip64 end-of-central-directory locator"))
            guard (try? bytes.le(UInt32.self, at: z, "")) == Self.zip64EOCDSignature else {
                throw CheckpointProblem("zip archive is damaged: zip64 end-of-central-directory record not found at offset \(z)")
            }
            count = Int(clamping: try bytes.le(UInt64.self, at: z + 32, "zip64 end-of-central-directory record"))
            cdSize = Int(clamping: try bytes.le(UInt64.self, at: z + 40, "zip64 end-of-central-directory record"))
            cdOffset = Int(clamping: try bytes.le(UInt64.self, at: z + 48, "zip64 end-of-central-directory record"))
        }
        guard cdOffset >= 0, cdSize >= 0, cdOffset <= bytes.count - cdSize else {
            throw CheckpointProblem("zip archive is truncated or damaged: central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the \(bytes.count)-byte file")
        }

        var entries: [ZipEntry] = []
        entries.reserveCapacity(min(count, cdSize / 46))
        var pos = cdOffset
        for i in 0..<count {
            let what = "central directory record \(i)"
            guard try bytes.le(UInt32.self, at: pos, what) == Self.centralSignature else {
                throw CheckpointProblem("zip archive is damaged: bad signature for \(what) at offset \(pos)")
            }
            let flags = try bytes.le(UInt16.self, at: pos + 8, what)
            let method = try bytes.le(UInt16.self, at: pos + 10, what)
            var csize = UInt64(try bytes.le(UInt32.self, at: pos + 20, what))
            var usize = UInt64(try bytes.le(UInt32.self, at: pos + 24, what))
            let nameLen = Int(try bytes.le(UInt16.self, at: pos + 28, what))
            let extraLen = Int(try bytes.le(UInt16.self, at: pos + 30, what))
            let commentLen = Int(try bytes.le(UInt16.self, at: pos + 32, what))
            var offset = UInt64(try bytes.le(UInt32.self, at: pos + 42, what))
            let name = String(decoding: try bytes.bytes(at: pos + 46, count: nameLen, what), as: UTF8.self)
            let extra = try bytes.bytes(at: pos + 46 + nameLen, count: extraLen, what)
            try Self.applyZip64Extra(extra, usize: &usize, csize: &csize, offset: &offset, entry: name)
            entries.append(ZipEntry(name: name, method: method, flags: flags,
                                    compressedSize: Int(clamping: csize), size: Int(clamping: usize),
                                    localHeaderOffset: Int(clamping: offset)))
            pos += 46 + nameLen + extraLen + commentLen
        }
        self.entries = entries
        var byName: [String: Int] = [:]
        for (i, e) in entries.enumerated() where byName[e.name] == nil { byName[e.name] = i }
        self.byName = byName
    }

    subscript(name: String) -> ZipEntry? { byName[name].map { entries[$0] } }

    /// The byte range of a member's data inside the archive; it must be stored (uncompressed).
    func dataRange(of entry: ZipEntry) throws -> Range<Int> {
        if entry.flags & 1 != 0 {
            throw CheckpointProblem("zip entry \(entry.name) is encrypted")
        }
        guard entry.method == 0 else {
            let kind = entry.method == 8 ? "deflate" : "method \(entry.method)"
            throw CheckpointProblem("zip entry \(entry.name) is compressed (\(kind)); PyTorch checkpoints store entries uncompressed — re-save the file with torch.save")
        }
        let what = "local header of zip entry \(entry.name)"
        let h = entry.localHeaderOffset
        guard try bytes.le(UInt32.self, at: h, what) == Self.localSignature else {
            throw CheckpointProblem("zip archive is damaged: bad \(what) at offset \(h)")
        }
        let nameLen = Int(try bytes.le(UInt16.self, at: h + 26, what))
        let extraLen = Int(try bytes.le(UInt16.self, at: h + 28, what))
        let start = h + 30 + nameLen + extraLen
        guard start <= bytes.count - entry.size else {
            throw CheckpointProblem("zip archive is truncated: entry \(entry.name) needs \(entry.size) bytes at offset \(start), file has \(bytes.count)")
        }
        return start..<(start + entry.size)
    }

    private static func findEOCD(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 22 else { return nil }
        let lowest = max(0, bytes.count - 22 - 65_535)
        var i = bytes.count - 22
        while i >= lowest {
            if bytes[i] == 0x50, bytes[i + 1] == 0x4b, bytes[i + 2] == 0x05, bytes[i + 3] == 0x06 { return i }
            i -= 1
        }
        return nil
    }

    /// Replaces 0xFFFFFFFF sizes/offset with the 64-bit values of a zip64 extra field (id 1).
    private static func applyZip64Extra(_ extra: UnsafeRawBufferPointer, usize: inout UInt64,
                                        csize: inout UInt64, offset: inout UInt64, entry: String) throws {
        var p = 0
        while p + 4 <= extra.count {
            let id = try extra.le(UInt16.self, at: p, "extra field of \(entry)")
            let len = Int(try extra.le(UInt16.self, at: p + 2, "extra field of \(entry)"))
            if id == 1 {
                var q = p + 4
                let what = "zip64 extra field of \(entry)"
                if usize == 0xFFFF_FFFF { usize = try extra.le(UInt64.self, at: q, what); q += 8 }
                if csize == 0xFFFF_FFFF { csize = try extra.le(UInt64.self, at: q, what); q += 8 }
                if offset == 0xFFFF_FFFF { offset = try extra.le(UInt64.self, at: q, what) }
                return
            }
            p += 4 + len
        }
    }
}
