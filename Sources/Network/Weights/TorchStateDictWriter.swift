/// Writes a flat state dict as `torch.save(state_dict, f)` does today: a zip archive
/// `archive/{data.pkl, .format_version, .storage_alignment, byteorder, data/<n>, version}`
/// whose protocol-2 pickle is an `OrderedDict` of tensors rebuilt by
/// `torch._utils._rebuild_tensor_v2` from persistent-id storages
/// `('storage', torch.FloatStorage, "<n>", 'cpu', numel)`. `torch.load(f, weights_only=True)`
/// reads it. String metadata goes where torch keeps per-module metadata: the OrderedDict's
/// `_metadata` attribute (set by BUILD), under `StateDictMetadata.pthEntry`, so
/// `load_state_dict(strict=True)` sees only the tensors.
public enum TorchStateDictWriter {
    public static func encode(_ entries: [StateDictEntry], metadata: [(key: String, value: String)] = []) throws -> [UInt8] {
        var names = Set<String>()
        for e in entries {
            try e.validate()
            guard names.insert(e.name).inserted else { throw CheckpointProblem("duplicate tensor name \(e.name)") }
        }
        var zip = ZipWriter(alignment: 64)
        try zip.add("archive/data.pkl", pickle(entries, metadata: metadata))
        try zip.add("archive/.format_version", Array("1".utf8))
        try zip.add("archive/.storage_alignment", Array("64".utf8))
        try zip.add("archive/byteorder", Array("little".utf8))
        for (i, e) in entries.enumerated() { try zip.add("archive/data/\(i)", e.littleEndianBytes) }
        try zip.add("archive/version", Array("3\n".utf8))
        return try zip.finish()
    }

    static func pickle(_ entries: [StateDictEntry], metadata: [(key: String, value: String)]) -> [UInt8] {
        var w = PickleWriter()
        w.emptyOrderedDict()
        if !entries.isEmpty {
            w.op(.mark)
            for (i, e) in entries.enumerated() {
                w.string(e.name)
                tensor(&w, e, storageKey: String(i))
            }
            w.op(.setItems)
        }
        if !metadata.isEmpty {
            w.op(.emptyDict)
            w.string("_metadata")
            w.emptyOrderedDict()
            w.string(StateDictMetadata.pthEntry)
            w.op(.emptyDict)
            w.op(.mark)
            for (k, v) in metadata { w.string(k); w.string(v) }
            w.op(.setItems)
            w.op(.setItem)
            w.op(.setItem)
            w.op(.build)
        }
        w.op(.stop)
        return w.bytes
    }

    /// `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`.
    private static func tensor(_ w: inout PickleWriter, _ e: StateDictEntry, storageKey: String) {
        w.global("torch._utils", "_rebuild_tensor_v2")
        w.op(.mark)
        w.op(.mark)
        w.string("storage")
        w.global("torch", e.dtype == .int64 ? "LongStorage" : "FloatStorage")
        w.string(storageKey)
        w.string("cpu")
        w.int(e.count)
        w.op(.tuple)
        w.op(.binPersId)
        w.int(0)
        w.tuple(e.shape)
        w.tuple(e.contiguousStrides)
        w.op(.newFalse)
        w.emptyOrderedDict()
        w.op(.tuple)
        w.op(.reduce)
    }
}
