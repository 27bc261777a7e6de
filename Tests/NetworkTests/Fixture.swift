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
