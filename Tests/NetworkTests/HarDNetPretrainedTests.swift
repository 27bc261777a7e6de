import Foundation
import XCTest
@testable import Network

/// `PromptGenerator.load(_:layout: .imagenetBackbone)`, the path `generator.pretrained` takes,
/// against small checkpoints in the HarDNet authors' full ImageNet layout (stride-32 stage
/// and classifier head included) written by Tools/reference/make_hardnet_pretrained_fixture.py.
final class HarDNetPretrainedTests: XCTestCase {
    private static func blocks(_ gr: [Int], _ n: [Int], _ ch: [Int], _ down: [Int]) -> [HarDNetVariant.Block] {
        gr.indices.map { .init(growth: gr[$0], layers: n[$0], transition: ch[$0], downsample: down[$0] == 1) }
    }

    /// The script's CONFIGS: "tiny" is shaped like hardnet85, "tiny_ds" like hardnet39ds.
    static let tiny = HarDNetVariant(
        name: "tiny", firstChannels: (8, 12), grmul: 1.7, depthwise: false,
        blocks: blocks([3, 4, 4, 6, 6, 8], [8, 2, 4, 2, 4, 2], [16, 20, 24, 32, 32, 32], [1, 0, 1, 0, 1, 0]))
    static let tinyDS = HarDNetVariant(
        name: "tiny_ds", firstChannels: (8, 16), grmul: 1.6, depthwise: true,
        blocks: blocks([6, 8, 12, 16], [4, 4, 4, 2], [24, 32, 48, 64], [1, 1, 1, 0]))

    static func path(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "pth", subdirectory: "Fixtures") else {
            throw NetworkError.invalidArgument("fixture \(name).pth missing: run Tools/reference/make_hardnet_pretrained_fixture.py")
        }
        return url.path
    }

    private static func ints(_ any: Any?) -> [Int] { (any as! [NSNumber]).map(\.intValue) }

    /// Every tensor of g by state-dict name: parameters, then BatchNorm buffers.
    private static func state(_ g: PromptGenerator) -> [String: [Float]] {
        var s: [String: [Float]] = [:]
        for p in g.store.parameters { s[p.name] = g.store.tensor(p).data }
        for b in g.buffers.named { s[b.name] = b.values }
        return s
    }

    func testTinyLoadsAndMatchesPyTorch() throws { try checkLoad("tiny", Self.tiny) }

    func testTinyDepthwiseLoadsAndMatchesPyTorch() throws { try checkLoad("tiny_ds", Self.tinyDS) }

    private func checkLoad(_ name: String, _ v: HarDNetVariant) throws {
        let fx = try BinaryFixture("hardnet_pretrained")
        let meta = fx.meta[name] as! [String: Any], cfg = meta["config"] as! [String: Any]
        // The Swift variant must be the script's configuration, or the comparison means nothing.
        XCTAssertEqual([v.firstChannels.0, v.firstChannels.1], Self.ints(cfg["first"]))
        XCTAssertEqual(v.grmul, (cfg["grmul"] as! NSNumber).doubleValue)
        XCTAssertEqual(v.depthwise, (cfg["depthwise"] as! NSNumber).boolValue)
        XCTAssertEqual(v.blocks, Self.blocks(Self.ints(cfg["growth"]), Self.ints(cfg["layers"]),
                                             Self.ints(cfg["transition"]), Self.ints(cfg["downsample"])))

        var rng = SeededRNG(seed: 0)
        let g = PromptGenerator(variant: v, context: TestContexts.standard, rng: &rng)
        XCTAssertEqual(g.hardnet!.stageIndices, Self.ints(meta["taps"]))
        let before = Self.state(g)
        let ckpt = try TorchCheckpoint(path: Self.path("hardnet_\(name)_imagenet"))
        XCTAssertEqual(ckpt.keys, meta["keys"] as! [String], "the file is the one the script wrote")
        let assigned = try g.load(ckpt, layout: .imagenetBackbone)

        // Exactly the file's tensors up to the stride-16 stage fill exactly g's backbone.
        let keys = meta["backbone_keys"] as! [String], sums = meta["sums"] as! [String: NSNumber]
        XCTAssertEqual(assigned, keys.count)
        let after = Self.state(g)
        XCTAssertEqual(Set(after.keys.filter { $0.hasPrefix("backbone.") }), Set(keys.map { "backbone." + $0 }))
        for key in keys {
            let file = try ckpt.tensor(key), ours = after["backbone." + key] ?? []
            XCTAssertTrue(ours == file.data, "backbone.\(key) is not the file's \(key)")
            if let p = g.store["backbone." + key] { XCTAssertEqual(p.shape, file.shape, key) }
            // Sums from PyTorch guard against the reader and the loader agreeing on a wrong value.
            let sum = ours.reduce(0.0) { $0 + Double($1) }, abs = ours.reduce(0.0) { $0 + Double(Swift.abs($1)) }
            XCTAssertEqual(sum, sums[key]!.doubleValue, accuracy: 1e-10 * abs + 1e-30, key)
        }
        for (k, old) in before where k.hasPrefix("decoder.") {
            XCTAssertTrue(after[k] == old, "\(k) changed: the decoder must keep its initialisation")
        }

        // Eval mode: the running statistics as well as the weights must have landed in place.
        let stages = try g.hardnet!.forward(analyticImage(2, 3, 64, 64), training: false).stages
        XCTAssertEqual(stages.count, 3)
        let torch32 = (meta["torch_f32_rel_err"] as! [NSNumber]).map(\.floatValue)
        for (i, s) in [4, 8, 16].enumerated() where i < stages.count {
            let err = fx.relativeError("\(name)/x\(s)", stages[i])
            print("hardnet pretrained \(name) x\(s) (\(g.context.convolution.engineName)): max|Δ|/max|ref| \(err) (PyTorch float32: \(torch32[i]))")
            XCTAssertLessThan(err, 1e-4, "\(name) stride-\(s) stage")
        }
    }

    // MARK: checkpoints that must be refused, naming the offending key, with g untouched

    private func expectRefusal(_ file: String, naming names: [String], _ check: (StateDictMismatchError) -> Void,
                               line: UInt = #line) throws {
        var rng = SeededRNG(seed: 0)
        let g = PromptGenerator(variant: Self.tiny, context: TestContexts.standard, rng: &rng)
        let before = Self.state(g), path = try Self.path(file)
        do {
            try g.load(TorchCheckpoint(path: path), layout: .imagenetBackbone)
            XCTFail("\(file) loaded without error", line: line)
        } catch let e as StateDictMismatchError {
            XCTAssertEqual(e.path, path, line: line)
            for n in names {
                XCTAssertTrue(e.description.contains(n), "“\(e.description)” should name \(n)", line: line)
            }
            check(e)
        }
        XCTAssertTrue(Self.state(g) == before, "a refused checkpoint must assign nothing", line: line)
    }

    private var bad: [String: Any] { get throws { try BinaryFixture("hardnet_pretrained").meta["bad"] as! [String: Any] } }

    func testMissingTensorIsNamed() throws {
        let key = try bad["missing"] as! String
        try expectRefusal("hardnet_tiny_missing", naming: [key]) { e in
            XCTAssertEqual(e.missing, [key])
            XCTAssertEqual(e.unexpected, [])
            XCTAssertEqual(e.wrongShape, [])
        }
    }

    func testWrongShapeIsNamed() throws {
        let b = try bad, key = b["wrong_shape"] as! String
        let expected = Self.ints(b["wrong_shape_expected"]), found = Self.ints(b["wrong_shape_found"])
        try expectRefusal("hardnet_tiny_wrong_shape", naming: [key]) { e in
            XCTAssertEqual(e.wrongShape, [.init(name: key, expected: expected, found: found)])
            XCTAssertEqual(e.missing, [])
            XCTAssertEqual(e.unexpected, [])
        }
    }

    func testMisspeltKeyIsNamed() throws {
        let b = try bad, typo = b["typo"] as! String, original = b["typo_of"] as! String
        try expectRefusal("hardnet_tiny_typo", naming: [typo, original]) { e in
            XCTAssertEqual(e.unexpected, [typo])
            XCTAssertEqual(e.missing, [original])
            XCTAssertEqual(e.wrongShape, [])
        }
    }
}
