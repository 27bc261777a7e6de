import Foundation

/// Writes a `.safetensors` file: u64 little-endian header length N, N bytes of JSON
/// `{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}`
/// (padded with spaces so the data starts 8-byte aligned), then the tensors' little-endian
/// bytes back to back in entry order.
public enum SafetensorsWriter {
    public static func encode(_ entries: [StateDictEntry], metadata: [(key: String, value: String)] = []) throws -> [UInt8] {
        var names = Set<String>()
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.map { "\(json($0.key)):\(json($0.value))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        for e in entries {
            try e.validate()
            guard e.name != "__metadata__", names.insert(e.name).inserted else {
                throw CheckpointProblem("duplicate or reserved tensor name \(e.name)")
            }
            let end = offset + e.count * e.dtype.byteSize
            let shape = e.shape.map(String.init).joined(separator: ",")
            parts.append("\(json(e.name)):{\"dtype\":\"\(SafetensorsFormat.name(e.dtype))\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        out += header
        for e in entries { out += e.littleEndianBytes }
        return out
    }

    /// A JSON string literal.
    static func json(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
