/// Base pointers of several buffers for one body, without a closure level per buffer:
///
///     withPointers(x, weight, bias?.data, mutating: &y) { xp, wp, bp, yp in … }
///
/// The read-only inputs come first and give `UnsafePointer`s; the outputs after `mutating:`
/// give `UnsafeMutablePointer`s. A buffer is a `[Element]` or a `Tensor` (its `data`), or an
/// optional one, which gives an optional pointer (nil for nil). Each buffer is entered with
/// its own `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer` (so an output is made
/// unique, copy-on-write, before it is written), exactly as the nested calls this replaces;
/// the pointers are valid only inside the body.
///
/// An empty buffer may have no base address (Swift's arrays in fact hand out their shared
/// empty storage); it then gets a non-null, aligned pointer that is valid for zero elements,
/// so a loop or copy of count 0 over it is fine and reading or writing an element through it
/// faults at once (it points into page zero), as unwrapping the nil address would have.
///
/// The overloads are the arities the ops use: (inputs, outputs) = (1–2, 0), (0–2, 1), (3, 1),
/// (6, 1), (1, 2), (3, 2), (1, 3), (3, 3), (4, 3), (3, 4), (5, 4).
protocol PointerReadable {
    associatedtype ReadPointer
    func withReadPointer<R>(_ body: (ReadPointer) throws -> R) rethrows -> R
}

protocol PointerWritable {
    associatedtype WritePointer
    mutating func withWritePointer<R>(_ body: (WritePointer) throws -> R) rethrows -> R
}

extension Array: PointerReadable, PointerWritable {
    @inline(__always)
    func withReadPointer<R>(_ body: (UnsafePointer<Element>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { try body($0.baseAddress ?? UnsafePointer(emptyBufferAddress(Element.self))) }
    }

    @inline(__always)
    mutating func withWritePointer<R>(_ body: (UnsafeMutablePointer<Element>) throws -> R) rethrows -> R {
        try withUnsafeMutableBufferPointer { try body($0.baseAddress ?? emptyBufferAddress(Element.self)) }
    }
}

extension Tensor: PointerReadable, PointerWritable {
    @inline(__always)
    func withReadPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try data.withReadPointer(body)
    }

    @inline(__always)
    mutating func withWritePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try data.withWritePointer(body)
    }
}

extension Optional: PointerReadable where Wrapped: PointerReadable {
    @inline(__always)
    func withReadPointer<R>(_ body: (Wrapped.ReadPointer?) throws -> R) rethrows -> R {
        guard let wrapped = self else { return try body(nil) }
        return try wrapped.withReadPointer { try body($0) }
    }
}

extension Optional: PointerWritable where Wrapped: PointerWritable {
    /// Writes go to the wrapped value in place (no copy).
    @inline(__always)
    mutating func withWritePointer<R>(_ body: (Wrapped.WritePointer?) throws -> R) rethrows -> R {
        guard self != nil else { return try body(nil) }
        return try self!.withWritePointer { try body($0) }
    }
}

/// The address given for an empty buffer without one: non-null and aligned, never dereferenced.
@inline(__always)
private func emptyBufferAddress<T>(_: T.Type) -> UnsafeMutablePointer<T> {
    UnsafeMutablePointer(bitPattern: MemoryLayout<T>.alignment)!
}

// MARK: - Inputs only

@inline(__always)
func withPointers<A: PointerReadable, R>(
    _ a: A, _ body: (A.ReadPointer) throws -> R) rethrows -> R {
    try a.withReadPointer(body)
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, R>(
    _ a: A, _ b: B, _ body: (A.ReadPointer, B.ReadPointer) throws -> R) rethrows -> R {
    try a.withReadPointer { a in try b.withReadPointer { b in try body(a, b) } }
}

// MARK: - One output

@inline(__always)
func withPointers<Y: PointerWritable, R>(
    mutating y: inout Y, _ body: (Y.WritePointer) throws -> R) rethrows -> R {
    try y.withWritePointer(body)
}

@inline(__always)
func withPointers<A: PointerReadable, Y: PointerWritable, R>(
    _ a: A, mutating y: inout Y, _ body: (A.ReadPointer, Y.WritePointer) throws -> R) rethrows -> R {
    try a.withReadPointer { a in try y.withWritePointer { y in try body(a, y) } }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, Y: PointerWritable, R>(
    _ a: A, _ b: B, mutating y: inout Y,
    _ body: (A.ReadPointer, B.ReadPointer, Y.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, b) { a, b in try y.withWritePointer { y in try body(a, b, y) } }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, C: PointerReadable, Y: PointerWritable, R>(
    _ a: A, _ b: B, _ c: C, mutating y: inout Y,
    _ body: (A.ReadPointer, B.ReadPointer, C.ReadPointer, Y.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, b) { a, b in try c.withReadPointer { c in try y.withWritePointer { y in try body(a, b, c, y) } } }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, C: PointerReadable, D: PointerReadable,
                  E: PointerReadable, F: PointerReadable, Y: PointerWritable, R>(
    _ a: A, _ b: B, _ c: C, _ d: D, _ e: E, _ f: F, mutating y: inout Y,
    _ body: (A.ReadPointer, B.ReadPointer, C.ReadPointer, D.ReadPointer, E.ReadPointer, F.ReadPointer,
             Y.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, b, c, mutating: &y) { a, b, c, y in
        try withPointers(d, e) { d, e in try f.withReadPointer { f in try body(a, b, c, d, e, f, y) } }
    }
}

// MARK: - Several outputs

@inline(__always)
func withPointers<A: PointerReadable, Y: PointerWritable, Z: PointerWritable, R>(
    _ a: A, mutating y: inout Y, _ z: inout Z,
    _ body: (A.ReadPointer, Y.WritePointer, Z.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, mutating: &y) { a, y in try z.withWritePointer { z in try body(a, y, z) } }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, C: PointerReadable,
                  Y: PointerWritable, Z: PointerWritable, R>(
    _ a: A, _ b: B, _ c: C, mutating y: inout Y, _ z: inout Z,
    _ body: (A.ReadPointer, B.ReadPointer, C.ReadPointer, Y.WritePointer, Z.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, b, c, mutating: &y) { a, b, c, y in try z.withWritePointer { z in try body(a, b, c, y, z) } }
}

@inline(__always)
func withPointers<A: PointerReadable, Y: PointerWritable, Z: PointerWritable, U: PointerWritable, R>(
    _ a: A, mutating y: inout Y, _ z: inout Z, _ u: inout U,
    _ body: (A.ReadPointer, Y.WritePointer, Z.WritePointer, U.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, mutating: &y, &z) { a, y, z in try u.withWritePointer { u in try body(a, y, z, u) } }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, C: PointerReadable,
                  Y: PointerWritable, Z: PointerWritable, U: PointerWritable, R>(
    _ a: A, _ b: B, _ c: C, mutating y: inout Y, _ z: inout Z, _ u: inout U,
    _ body: (A.ReadPointer, B.ReadPointer, C.ReadPointer, Y.WritePointer, Z.WritePointer, U.WritePointer) throws -> R)
    rethrows -> R {
    try withPointers(a, b, c, mutating: &y, &z) { a, b, c, y, z in try u.withWritePointer { u in try body(a, b, c, y, z, u) } }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, C: PointerReadable, D: PointerReadable,
                  Y: PointerWritable, Z: PointerWritable, U: PointerWritable, R>(
    _ a: A, _ b: B, _ c: C, _ d: D, mutating y: inout Y, _ z: inout Z, _ u: inout U,
    _ body: (A.ReadPointer, B.ReadPointer, C.ReadPointer, D.ReadPointer,
             Y.WritePointer, Z.WritePointer, U.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, b, c, mutating: &y, &z, &u) { a, b, c, y, z, u in
        try d.withReadPointer { d in try body(a, b, c, d, y, z, u) }
    }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, C: PointerReadable,
                  Y: PointerWritable, Z: PointerWritable, U: PointerWritable, V: PointerWritable, R>(
    _ a: A, _ b: B, _ c: C, mutating y: inout Y, _ z: inout Z, _ u: inout U, _ v: inout V,
    _ body: (A.ReadPointer, B.ReadPointer, C.ReadPointer,
             Y.WritePointer, Z.WritePointer, U.WritePointer, V.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, b, c, mutating: &y, &z, &u) { a, b, c, y, z, u in try v.withWritePointer { v in try body(a, b, c, y, z, u, v) } }
}

@inline(__always)
func withPointers<A: PointerReadable, B: PointerReadable, C: PointerReadable, D: PointerReadable, E: PointerReadable,
                  Y: PointerWritable, Z: PointerWritable, U: PointerWritable, V: PointerWritable, R>(
    _ a: A, _ b: B, _ c: C, _ d: D, _ e: E, mutating y: inout Y, _ z: inout Z, _ u: inout U, _ v: inout V,
    _ body: (A.ReadPointer, B.ReadPointer, C.ReadPointer, D.ReadPointer, E.ReadPointer,
             Y.WritePointer, Z.WritePointer, U.WritePointer, V.WritePointer) throws -> R) rethrows -> R {
    try withPointers(a, b, c, mutating: &y, &z, &u) { a, b, c, y, z, u in
        try withPointers(d, e) { d, e in try v.withWritePointer { v in try body(a, b, c, d, e, y, z, u, v) } }
    }
}
