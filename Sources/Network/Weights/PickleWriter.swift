/// Emits the protocol-2 pickle opcodes a `torch.save`d state dict uses. No memo is written
/// (every global is spelled out), which any unpickler accepts.
struct PickleWriter {
    private(set) var bytes: [UInt8] = [0x80, 2] // PROTO 2

    enum Op: UInt8 {
        case mark = 0x28, stop = 0x2e, emptyTuple = 0x29, tuple = 0x74, emptyDict = 0x7d
        case setItem = 0x73, setItems = 0x75, reduce = 0x52, build = 0x62, binPersId = 0x51, newFalse = 0x89
    }

    mutating func op(_ o: Op) { bytes.append(o.rawValue) }

    /// GLOBAL "module\nname\n".
    mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63)
        bytes += Array((module + "\n" + name + "\n").utf8)
    }

    /// BINUNICODE: u32 length, UTF-8.
    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58)
        withUnsafeBytes(of: UInt32(u.count).littleEndian) { bytes += $0 }
        bytes += u
    }

    /// BININT1, BININT2, BININT or LONG1, the smallest that holds `v`.
    mutating func int(_ v: Int) {
        switch v {
        case 0...0xFF: bytes += [0x4b, UInt8(v)]
        case 0...0xFFFF: bytes.append(0x4d); withUnsafeBytes(of: UInt16(v).littleEndian) { bytes += $0 }
        case Int(Int32.min)...Int(Int32.max): bytes.append(0x4a); withUnsafeBytes(of: Int32(v).littleEndian) { bytes += $0 }
        default: bytes += [0x8a, 8]; withUnsafeBytes(of: Int64(v).littleEndian) { bytes += $0 }
        }
    }

    mutating func tuple(_ ints: [Int]) {
        if ints.isEmpty { op(.emptyTuple); return }
        op(.mark)
        for i in ints { int(i) }
        op(.tuple)
    }

    /// `collections.OrderedDict()` on the stack.
    mutating func emptyOrderedDict() {
        global("collections", "OrderedDict")
        op(.emptyTuple)
        op(.reduce)
    }
}
