/// Runs the subset of the pickle machine (protocol 2+) that `torch.save` uses for state
/// dicts. Only a fixed set of globals can be created (OrderedDict, the tensor rebuild
/// functions and the typed storage classes); any other opcode or global is an error that
/// names it.
struct Unpickler {
    private let data: UnsafeRawBufferPointer
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(_ data: UnsafeRawBufferPointer) {
        self.data = data
    }

    static func load(_ data: UnsafeRawBufferPointer) throws -> PickleValue {
        var u = Unpickler(data)
        return try u.run()
    }

    /// One pickle from the start of `data`, and the number of bytes it took (the legacy
    /// `torch.save` format writes several pickles and then raw storages one after another).
    static func loadPrefix(_ data: UnsafeRawBufferPointer) throws -> (value: PickleValue, length: Int) {
        var u = Unpickler(data)
        let v = try u.run()
        return (v, u.pos)
    }

    private mutating func run() throws -> PickleValue {
        while true {
            let at = pos
            let op = try byte()
            do {
                if let result = try step(op) { return result }
            } catch let p as CheckpointProblem {
                throw CheckpointProblem("data.pkl at byte \(at), opcode \(PickleOpcodes.describe(op)): \(p.message)")
            }
        }
    }

    /// Executes one opcode; returns the result at STOP.
    private mutating func step(_ op: UInt8) throws -> PickleValue? {
        switch op {
        case 0x80: // PROTO
            let proto = try byte()
            guard proto >= 2 && proto <= 5 else { throw CheckpointProblem("unsupported pickle protocol \(proto)") }
        case 0x95: // FRAME: only a length hint
            _ = try bytes(8)
        case 0x2e: // STOP
            guard stack.count == 1, marks.isEmpty else {
                throw CheckpointProblem("pickle ends with \(stack.count) values on the stack")
            }
            return stack[0]
        case 0x28: marks.append(stack.count) // MARK
        case 0x30: _ = try pop() // POP
        case 0x4e: stack.append(.none) // NONE
        case 0x88: stack.append(.bool(true)) // NEWTRUE
        case 0x89: stack.append(.bool(false)) // NEWFALSE
        case 0x4a: stack.append(.int(Int64(Int32(bitPattern: try le(UInt32.self))))) // BININT
        case 0x4b: stack.append(.int(Int64(try byte()))) // BININT1
        case 0x4d: stack.append(.int(Int64(try le(UInt16.self)))) // BININT2
        case 0x8a: stack.append(.int(try long1())) // LONG1
        case 0x47: // BINFLOAT: big-endian double
            stack.append(.float(Double(bitPattern: UInt64(bigEndian: try raw(UInt64.self)))))
        case 0x58: stack.append(.string(try string(Int(try le(UInt32.self))))) // BINUNICODE
        case 0x8c: stack.append(.string(try string(Int(try byte())))) // SHORT_BINUNICODE
        case 0x8d: stack.append(.string(try string(Int(clamping: try le(UInt64.self))))) // BINUNICODE8
        case 0x29: stack.append(.tuple([])) // EMPTY_TUPLE
        case 0x85, 0x86, 0x87: // TUPLE1..3
            let n = Int(op - 0x84)
            guard stack.count >= n else { throw CheckpointProblem("stack underflow") }
            let items = Array(stack.suffix(n))
            stack.removeLast(n)
            stack.append(.tuple(items))
        case 0x74: stack.append(.tuple(try popMark())) // TUPLE
        case 0x5d: stack.append(.list(PickleList())) // EMPTY_LIST
        case 0x61: // APPEND
            let v = try pop()
            try list(at: stack.count - 1).items.append(v)
        case 0x65: // APPENDS
            let items = try popMark()
            try list(at: stack.count - 1).items.append(contentsOf: items)
        case 0x7d: stack.append(.dict(PickleDict())) // EMPTY_DICT
        case 0x73: // SETITEM
            let v = try pop(), k = try pop()
            try dict(at: stack.count - 1).set(k, v)
        case 0x75: // SETITEMS
            let items = try popMark()
            guard items.count % 2 == 0 else { throw CheckpointProblem("odd number of items for SETITEMS") }
            let d = try dict(at: stack.count - 1)
            for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
        case 0x71: memo[Int(try byte())] = try top() // BINPUT
        case 0x72: memo[Int(try le(UInt32.self))] = try top() // LONG_BINPUT
        case 0x94: memo[memo.count] = try top() // MEMOIZE
        case 0x68: try get(Int(try byte())) // BINGET
        case 0x6a: try get(Int(try le(UInt32.self))) // LONG_BINGET
        case 0x63: // GLOBAL
            let module = try line(), name = try line()
            stack.append(try global(module, name))
        case 0x93: // STACK_GLOBAL
            let name = try pop(), module = try pop()
            guard case let .string(m) = module, case let .string(n) = name else {
                throw CheckpointProblem("STACK_GLOBAL needs two strings, got \(module.kind) and \(name.kind)")
            }
            stack.append(try global(m, n))
        case 0x51: stack.append(try persistentLoad(try pop())) // BINPERSID
        case 0x52, 0x81: // REDUCE, NEWOBJ
            let args = try pop(), callable = try pop()
            guard case let .tuple(a) = args else { throw CheckpointProblem("arguments are a \(args.kind), not a tuple") }
            stack.append(try call(callable, a))
        case 0x62: // BUILD: an OrderedDict's attributes (its _metadata) are kept; a tensor's are not needed
            let state = try pop()
            switch try top() {
            case let .dict(d): d.state = state
            case .tensor: break
            case let obj: throw CheckpointProblem("cannot set state (\(state.kind)) on a \(obj.kind)")
            }
        default:
            throw CheckpointProblem("unsupported pickle opcode (a PyTorch state dict should not contain it)")
        }
        return nil
    }

    // MARK: objects

    private static let storageModule = "torch"
    private static let rebuildModule = "torch._utils"

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        switch (module, name) {
        case ("collections", "OrderedDict"),
             (Self.rebuildModule, "_rebuild_tensor_v2"),
             (Self.rebuildModule, "_rebuild_parameter"),
             (Self.rebuildModule, "_rebuild_parameter_with_state"):
            return .global(module: module, name: name)
        case (Self.storageModule, _) where TorchDType(storageClass: name) != nil:
            return .global(module: module, name: name)
        default:
            throw CheckpointProblem("unsupported global \(module).\(name) (only tensors, storages and OrderedDict are allowed in a state dict)")
        }
    }

    private func call(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case let .global(module, name) = callable else {
            throw CheckpointProblem("cannot call a \(callable.kind)")
        }
        switch (module, name) {
        case ("collections", "OrderedDict"):
            let d = PickleDict()
            if let first = args.first {
                guard case let .list(pairs) = first else { throw CheckpointProblem("OrderedDict argument is a \(first.kind)") }
                for p in pairs.items {
                    guard case let .tuple(kv) = p, kv.count == 2 else { throw CheckpointProblem("OrderedDict item is not a pair") }
                    d.set(kv[0], kv[1])
                }
            }
            return .dict(d)
        case (Self.rebuildModule, "_rebuild_tensor_v2"):
            guard args.count >= 4, case let .storage(s) = args[0], case let .int(offset) = args[1],
                  case let .tuple(size) = args[2], case let .tuple(stride) = args[3] else {
                throw CheckpointProblem("_rebuild_tensor_v2 needs (storage, offset, size, stride, ...), got (\(args.map(\.kind).joined(separator: ", ")))")
            }
            return .tensor(TorchTensorRef(storage: s, offset: Int(offset),
                                          shape: try ints(size, "size"), stride: try ints(stride, "stride")))
        case (Self.rebuildModule, "_rebuild_parameter"), (Self.rebuildModule, "_rebuild_parameter_with_state"):
            guard let first = args.first, case .tensor = first else {
                throw CheckpointProblem("\(name) needs a tensor argument")
            }
            return first
        default:
            throw CheckpointProblem("cannot call \(module).\(name)")
        }
    }

    private func ints(_ values: [PickleValue], _ what: String) throws -> [Int] {
        try values.map {
            guard case let .int(v) = $0 else { throw CheckpointProblem("tensor \(what) holds a \($0.kind)") }
            return Int(v)
        }
    }

    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        // The zip format's id has 5 fields; the legacy format adds a 6th, view metadata, which
        // is None unless storages share memory (not supported).
        if case let .tuple(t) = pid, t.count == 6 {
            guard case .none = t[5] else {
                throw CheckpointProblem("persistent id has view metadata (a storage view), which is not supported")
            }
        }
        guard case let .tuple(t) = pid, t.count == 5 || t.count == 6, case .string("storage") = t[0],
              case let .global(_, cls) = t[1], let dtype = TorchDType(storageClass: cls),
              case let .string(key) = t[2], case let .int(numel) = t[4], numel >= 0 else {
            throw CheckpointProblem("persistent id is not ('storage', <torch.*Storage>, key, location, numel)")
        }
        return .storage(TorchStorageRef(key: key, dtype: dtype, numel: Int(numel)))
    }

    // MARK: stack and memo

    private func top() throws -> PickleValue {
        guard let v = stack.last else { throw CheckpointProblem("stack underflow") }
        return v
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw CheckpointProblem("stack underflow") }
        if let m = marks.last, stack.count < m { throw CheckpointProblem("stack underflow past a MARK") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw CheckpointProblem("no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func get(_ i: Int) throws {
        guard let v = memo[i] else { throw CheckpointProblem("memo entry \(i) was never stored") }
        stack.append(v)
    }

    private func list(at i: Int) throws -> PickleList {
        guard i >= 0, case let .list(l) = stack[i] else {
            throw CheckpointProblem("target is \(i >= 0 ? stack[i].kind : "missing"), not a list")
        }
        return l
    }

    private func dict(at i: Int) throws -> PickleDict {
        guard i >= 0, case let .dict(d) = stack[i] else {
            throw CheckpointProblem("target is \(i >= 0 ? stack[i].kind : "missing"), not a dict")
        }
        return d
    }

    // MARK: reading

    private mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        let b = try data.bytes(at: pos, count: n, "pickle argument")
        pos += n
        return b
    }

    private mutating func byte() throws -> UInt8 {
        guard pos < data.count else { throw CheckpointProblem("data.pkl ends before STOP (truncated pickle)") }
        defer { pos += 1 }
        return data[pos]
    }

    private mutating func raw<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let b = try bytes(MemoryLayout<T>.size)
        return b.loadUnaligned(as: T.self)
    }

    private mutating func le<T: FixedWidthInteger>(_: T.Type) throws -> T {
        T(littleEndian: try raw(T.self))
    }

    private mutating func long1() throws -> Int64 {
        let n = Int(try byte())
        guard n <= 8 else { throw CheckpointProblem("LONG1 integer of \(n) bytes does not fit in 64 bits") }
        let b = try bytes(n)
        guard n > 0 else { return 0 }
        var v: UInt64 = b[n - 1] & 0x80 != 0 ? ~0 : 0 // sign-extend
        for i in stride(from: n - 1, through: 0, by: -1) { v = (v << 8) | UInt64(b[i]) }
        return Int64(bitPattern: v)
    }

    private mutating func string(_ n: Int) throws -> String {
        let b = try bytes(n)
        guard let s = String(validating: b, as: UTF8.self) else { throw CheckpointProblem("string is not valid UTF-8") }
        return s
    }

    private mutating func line() throws -> String {
        guard let nl = data[pos...].firstIndex(of: 0x0a) else { throw CheckpointProblem("GLOBAL name has no newline") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: data[pos..<nl]), as: UTF8.self)
        pos = nl + 1
        return s
    }
}
