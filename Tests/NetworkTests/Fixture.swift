import Foundation
import XCTest
@testable import Network

/// A parity fixture written by Tools/reference (see fixture_io.py for the format).
struct Fixture {
    let name: String
    let meta: [String: Any]
    let tensors: [String: Tensor]

    init(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw NetworkError.invalidArgument("fixture \(name).json missing: run Tools/reference")
        }
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        self.name = name
        self.meta = obj["meta"] as? [String: Any] ?? [:]
        var ts: [String: Tensor] = [:]
        for (k, v) in obj["tensors"] as! [String: Any] {
            let d = v as! [String: Any]
            let shape = (d["shape"] as! [NSNumber]).map { $0.intValue }
            let data = (d["data"] as! [NSNumber]).map { $0.floatValue }
            ts[k] = Tensor(shape: shape, data: data)
        }
        self.tensors = ts
    }

    subscript(_ key: String) -> Tensor { tensors[key]! }
    func int(_ key: String) -> Int { (meta[key] as! NSNumber).intValue }
    func bool(_ key: String) -> Bool { (meta[key] as! NSNumber).boolValue }
}

/// max |a - b| / max(max |b|, tiny): the relative error the parity tests state.
func maxRelativeError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var diff: Float = 0, scale: Float = 1e-12
    for i in 0..<a.count {
        diff = max(diff, abs(a.data[i] - b.data[i]))
        scale = max(scale, abs(b.data[i]))
    }
    return diff / scale
}

/// A larger fixture (fixture_io.write_binary_fixture): "ASFX", u32 header length, JSON
/// header, float32 data. A tensor may be stored subsampled: only flat[::stride].
struct BinaryFixture {
    struct Entry { let shape: [Int]; let stride: Int; let values: [Float] }
    let entries: [String: Entry]
    let meta: [String: Any]

    init(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "bin", subdirectory: "Fixtures") else {
            throw NetworkError.invalidArgument("fixture \(name).bin missing: run Tools/reference")
        }
        let data = try Data(contentsOf: url)
        let hlen = Int(data[4]) | Int(data[5]) << 8 | Int(data[6]) << 16 | Int(data[7]) << 24
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + hlen))) as! [String: Any]
        let base = 8 + hlen
        var es: [String: Entry] = [:]
        for (k, v) in header["tensors"] as! [String: Any] {
            let d = v as! [String: Any]
            let off = (d["offset"] as! NSNumber).intValue, count = (d["count"] as! NSNumber).intValue
            var vals = [Float](repeating: 0, count: count)
            _ = vals.withUnsafeMutableBytes { dst in
                data.copyBytes(to: dst, from: (base + off * 4)..<(base + (off + count) * 4))
            }
            es[k] = Entry(shape: (d["shape"] as! [NSNumber]).map(\.intValue), stride: (d["stride"] as! NSNumber).intValue, values: vals)
        }
        entries = es
        meta = header["meta"] as? [String: Any] ?? [:]
    }

    /// max |ours - ref| / max |ref| over the stored positions; shapes must match.
    func relativeError(_ key: String, _ ours: Tensor, file: StaticString = #filePath, line: UInt = #line) -> Float {
        guard let e = entries[key] else { XCTFail("no fixture tensor \(key)", file: file, line: line); return .infinity }
        XCTAssertEqual(ours.shape, e.shape, "shape of \(key)", file: file, line: line)
        guard ours.shape == e.shape else { return .infinity }
        var diff: Float = 0, scale: Float = 1e-12
        for (j, ref) in e.values.enumerated() {
            diff = max(diff, abs(ours.data[j * e.stride] - ref))
            scale = max(scale, abs(ref))
        }
        return diff / scale
    }

    func scalar(_ key: String) -> Float { entries[key]!.values[0] }
}

/// The smooth test image of fixture_io.analytic_image, built the same way (in Double).
func analyticImage(_ n: Int, _ c: Int, _ h: Int, _ w: Int, phase: Double = 0) -> Tensor {
    var t = Tensor(zeros: [n, c, h, w])
    for ni in 0..<n { for ci in 0..<c { for y in 0..<h { for x in 0..<w {
        let (yd, xd, cd, nd) = (Double(y), Double(x), Double(ci), Double(ni))
        let v = sin(0.071 * yd + 0.5 * cd + phase + 0.9 * nd) * cos(0.053 * xd - 0.3 * cd)
            + 0.25 * sin(0.013 * (xd + yd) * (cd + 1))
        t.data[((ni * c + ci) * h + y) * w + x] = Float(v)
    } } } }
    return t
}
