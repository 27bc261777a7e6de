import Foundation
import Network
import TestSupport
import Training
import XCTest

/// Shared pieces of the interop tests: the seeded g the fixtures are built from, temporary
/// files, the committed fixtures.
enum InteropSupport {
    /// The Swift g that fixtures_interop.py loads from Swift's export: hardnet39ds from seed
    /// 1606, with running statistics drawn from seed 1607 (so the buffers are exercised).
    static func seededGenerator(seed: UInt64 = 1606) -> PromptGenerator {
        var rng = SeededRNG(seed: seed)
        let g = PromptGenerator(variant: .hardnet39DS, context: TestContext.standard, rng: &rng)
        var stats = SeededRNG(seed: seed &+ 1)
        for (name, v) in g.buffers.named {
            let isVar = name.hasSuffix("running_var")
            try! g.buffers.set(name, v.map { _ in isVar ? 0.5 + stats.nextUniform() : 0.2 * (stats.nextUniform() - 0.5) })
        }
        return g
    }

    static let batchesTracked = 7

    static func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "interop-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// g's export in `format` as bytes, with the metadata the fixture expects.
    static func export(_ g: PromptGenerator, _ format: StateDictFormat) throws -> [UInt8] {
        let meta = InteropMetadata(module: "ModelEmb", hardnetVariant: g.backboneKind.name, sam: "lite_medsam",
                                   samSHA256: String(repeating: "ab", count: 32), inputSize: 256, lossActivation: "sigmoid", step: 7)
        return try format.encode(GeneratorStateDict.entries(g, batchesTracked: batchesTracked), metadata: meta)
    }

    /// h (seed 5) with ModelH's metadata, as bytes.
    static func exportSurrogate(_ format: StateDictFormat) throws -> [UInt8] {
        var rng = SeededRNG(seed: 5)
        let h = SurrogateDecoder(context: TestContext.standard, rng: &rng)
        let entries = h.store.parameters.map { StateDictEntry(name: $0.name, shape: $0.shape, values: .float32(h.store.tensor($0).data)) }
        return try format.encode(entries, metadata: InteropMetadata(module: "ModelH", hardnetVariant: "hardnet39ds"))
    }

    static func fixture(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            throw XCTSkip("fixture \(name) missing: run Tools/reference/fixtures_interop.py")
        }
        return url.path
    }

    /// max |a − b| / max |b|.
    static func maxRelative(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var d: Float = 0, s: Float = 1e-12
        for i in a.indices { d = max(d, abs(a[i] - b[i])); s = max(s, abs(b[i])) }
        return d / s
    }
}
