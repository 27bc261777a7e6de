import Datasets
import Foundation
import Network
import TestSupport
import Training
import XCTest

/// The g's with `generator.input` image (MobileNetV2 backbone), embedding and both
/// (MobileNetV2) against PyTorch (`ModelEmbInputs`, Tools/reference/autosam_g_inputs.py;
/// fixtures from Tools/reference/fixtures_interop_inputs.py), in eval mode, both directions:
/// - a state dict torch.save wrote (seeded values, running statistics from a training pass)
///   imports here with `GeneratorImport.load` and gives torch's Z;
/// - Swift's export (both formats), loaded in torch with load_state_dict(strict=True), gave the
///   Z this g computes.
/// Inputs: seeded image 1×3×64×64 and embedding 1×256×16×16 (stride-4 features 16×16, no
/// resize); for `both` also image 96² with embedding 16² (the image part resized 24 → 16) and
/// image 64² with embedding 24² (16 → 24). Z is compared at every `z_stride`-th element.
///
/// Error model for the tolerance: both sides compute in float32 (unit roundoff u = 2⁻²⁴) with
/// different summation orders (and here BatchNorm folded into the weights for `infer`). A
/// convolution with fan-in K then differs by about u·√K relative to its output scale; the
/// running statistics keep every layer's output at unit scale, so these differences add in
/// quadrature over the layers: relative error ≈ u·√(ΣK) with ΣK the fan-ins summed over all
/// of g's convolutions (conservative: for `both` the two branches are parallel). tanh has slope
/// ≤ 1 and the resizes average, so Z inherits it. The tolerance is 16·u·√(ΣK), relative to
/// max |Z| (×2 for two independent implementations, ×4 for the largest of a few thousand
/// near-Gaussian samples, ×2 for the pre-tanh scale and BatchNorm gains above 1): 0.8e-4 to
/// 1.1e-4 for ΣK = 6336 (embedding), 9112 (image), 13144 (both). Measured: 0.4 to 1.6·u·√(ΣK).
final class InteropInputsParityTests: XCTestCase {
    /// One g of the fixture: its name in the fixture's keys, its input, its backbone.
    struct Variant {
        let key: String
        let input: GeneratorInput
        let backbone: String
        /// (case name, image input name, embedding input name).
        let cases: [(name: String, image: String, embedding: String?)]
        let torchFile: String
    }

    static let image = Variant(key: "image", input: .image, backbone: "mobilenet_v2",
                               cases: [("i64", "image64", nil)], torchFile: "torch_g_mobilenet_v2.pth")
    /// The embedding g builds no backbone; the config's default names one (as `detectVariant` reports).
    static let embedding = Variant(key: "embedding", input: .embedding, backbone: TrainConfig.Generator().backbone,
                                   cases: [("e16", "image64", "embedding16")], torchFile: "torch_g_embedding.pth")
    static let both = Variant(key: "both", input: .both, backbone: "mobilenet_v2",
                              cases: [("i64e16", "image64", "embedding16"), ("i96e16", "image96", "embedding16"),
                                      ("i64e24", "image64", "embedding24")],
                              torchFile: "torch_g_mobilenet_v2_both.pth")
    static let all = [image, embedding, both]

    // MARK: Inputs and the seeded Swift g

    /// The inputs, drawn from seed 2828 (the script reads them from Swift's write step).
    static func inputs() -> [(name: String, tensor: Tensor)] {
        var rng = SeededRNG(seed: 2828)
        func draw(_ shape: [Int], _ f: (Float) -> Float) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in f(rng.nextUniform()) })
        }
        let unit: (Float) -> Float = { $0 }, signed: (Float) -> Float = { 2 * $0 - 1 }
        return [("image64", draw([1, 3, 64, 64], unit)), ("image96", draw([1, 3, 96, 96], unit)),
                ("embedding16", draw([1, 256, 16, 16], signed)), ("embedding24", draw([1, 256, 24, 24], signed))]
    }

    /// The Swift g the script loads from Swift's export: PyTorch's default initialisation from
    /// seed 2830, BatchNorm γ ∈ [0.8, 1.2] and β ∈ [−0.1, 0.1] from seed 2831, and running
    /// statistics from PreciseBN over two seeded batches of four, so each layer's output keeps
    /// unit scale and Z depends on the inputs (with random statistics the signal dies out over
    /// MobileNetV2's ~40 layers). The statistics may differ in the last bits between CPUs, so
    /// the fixture pins the parameters by hash and the statistics by a checksum.
    static func seededGenerator(_ v: Variant) throws -> PromptGenerator {
        var cfg = TrainConfig()
        cfg.generator.backbone = v.backbone
        cfg.generator.input = v.input
        var rng = SeededRNG(seed: 2830)
        let g = try cfg.makeGenerator(context: TestContext.standard, rng: &rng)
        var affine = SeededRNG(seed: 2831)
        for p in g.store.parameters {
            let module = String(p.name[..<p.name.lastIndex(of: ".")!])
            guard g.buffers[module + ".running_mean"] != nil else { continue }
            let isWeight = p.name.hasSuffix(".weight")
            try g.store.set(p, Tensor(shape: p.shape, data: (0..<p.count).map { _ in
                let u = affine.nextUniform()
                return isWeight ? 0.8 + 0.4 * u : 0.2 * u - 0.1
            }))
        }
        var data = SeededRNG(seed: 2832)
        try g.recomputeRunningStats(batches: 2) { _ in
            let x = Tensor(shape: [4, 3, 64, 64], data: (0..<(4 * 3 * 64 * 64)).map { _ in data.nextUniform() })
            let e = Tensor(shape: [4, 256, 16, 16], data: (0..<(4 * 256 * 16 * 16)).map { _ in 2 * data.nextUniform() - 1 })
            return (x, g.readsEmbedding ? e : nil)
        }
        return g
    }

    static func export(_ g: PromptGenerator, _ v: Variant, _ format: StateDictFormat) throws -> [UInt8] {
        let meta = InteropMetadata(module: "ModelEmb", hardnetVariant: v.backbone, sam: "lite_medsam",
                                   samSHA256: String(repeating: "ab", count: 32), inputSize: 64, lossActivation: "sigmoid", step: 7,
                                   generatorInput: v.input == .image ? nil : v.input.rawValue)
        return try format.encode(GeneratorStateDict.entries(g, batchesTracked: InteropSupport.batchesTracked), metadata: meta)
    }

    /// SHA-256 of g's parameters (float32 little-endian, in the export's order), not its running statistics.
    static func parameterHash(_ g: PromptGenerator) -> String {
        var h = SHA256()
        for p in g.store.parameters {
            g.store.tensor(p).data.withUnsafeBytes { h.update($0) }
        }
        return SHA256.hex(h.finish())
    }

    /// Σ of every running statistic, and Σ of their magnitudes (Double).
    static func statisticsChecksum(_ g: PromptGenerator) -> (sum: Double, abs: Double) {
        var s = 0.0, a = 0.0
        for (_, v) in g.buffers.named { for x in v { s += Double(x); a += Double(abs(x)) } }
        return (s, a)
    }

    /// Σ of the fan-ins of g's convolutions (the error model's ΣK).
    static func fanInSum(_ g: PromptGenerator) -> Int {
        g.store.parameters.filter { $0.shape.count == 4 }.map { $0.shape[1] * $0.shape[2] * $0.shape[3] }.reduce(0, +)
    }

    static func tolerance(_ g: PromptGenerator) -> Float {
        16 * Float(0x1p-24) * Float(Double(fanInSum(g)).squareRoot())
    }

    // MARK: Fixture

    static func fixture(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            throw XCTSkip("fixture \(name) missing: run Tools/reference/fixtures_interop_inputs.py (see its header)")
        }
        return url.path
    }

    private func zFixture() throws -> SafetensorsFile {
        try SafetensorsFile(path: Self.fixture("interop_inputs_z.safetensors"))
    }

    /// The inputs by name, after checking that they are the ones the script used.
    private func checkedInputs(_ fx: SafetensorsFile) throws -> [String: Tensor] {
        let stride = Int(fx.metadata["input_stride"]!)!
        var out: [String: Tensor] = [:]
        for (name, t) in Self.inputs() {
            let want = try fx.tensor("input_\(name)").data
            let got = Swift.stride(from: 0, to: t.count, by: stride).map { t.data[$0] }
            XCTAssertEqual(got, want, "input \(name) is not the one the fixture was made with; rerun the script")
            out[name] = t
        }
        return out
    }

    /// max relative Z difference per case, for `forward(training: false)` and `infer`.
    private func compare(_ g: PromptGenerator, _ v: Variant, _ fx: SafetensorsFile, prefix: String,
                         label: String) throws -> Float {
        let inputs = try checkedInputs(fx)
        let stride = Int(fx.metadata["z_stride"]!)!
        let tol = Self.tolerance(g)
        var worst: Float = 0
        for c in v.cases {
            let x = inputs[c.image]!, e = c.embedding.map { inputs[$0]! }
            let want = try fx.tensor("\(prefix)_\(v.key)_\(c.name)").data
            let pick = { (z: Tensor) in Swift.stride(from: 0, to: z.count, by: stride).map { z.data[$0] } }
            let eval = pick(try g.forward(x, embedding: e, training: false).0)
            let infer = pick(try g.infer(x, embedding: e))
            let e1 = InteropSupport.maxRelative(eval, want), e2 = InteropSupport.maxRelative(infer, want)
            print(String(format: "%@ %@ %@: max rel Z difference %.2e (eval), %.2e (fused inference); tolerance %.2e",
                         label, v.key, c.name, e1, e2, tol))
            XCTAssertLessThan(e1, tol, "\(label) \(v.key) \(c.name), eval")
            XCTAssertLessThan(e2, tol, "\(label) \(v.key) \(c.name), fused inference")
            worst = max(worst, e1, e2)
        }
        return worst
    }

    // MARK: torch → Swift

    private func checkTorchSaved(_ v: Variant) throws {
        let fx = try zFixture()
        let path = try Self.fixture(v.torchFile)
        var cfg = TrainConfig()
        cfg.generator.backbone = v.backbone
        cfg.generator.input = v.input
        var rng = SeededRNG(seed: 3)
        let g = try cfg.makeGenerator(context: TestContext.standard, rng: &rng)
        let r = try GeneratorImport.load(path, into: g, expecting: .init(variant: g.backboneKind))
        XCTAssertNil(r.metadata, "torch.save wrote no autosam metadata")
        XCTAssertEqual(r.tensors, g.store.parameters.count + g.buffers.named.count, "every parameter and running statistic assigned")
        _ = try compare(g, v, fx, prefix: "z_torch_saved", label: "torch-saved g → Swift:")
    }

    func testTorchSavedImageMobileNetV2GGivesTorchZ() throws { try checkTorchSaved(Self.image) }
    func testTorchSavedEmbeddingGGivesTorchZ() throws { try checkTorchSaved(Self.embedding) }
    func testTorchSavedBothMobileNetV2GGivesTorchZ() throws { try checkTorchSaved(Self.both) }

    /// Shapes alone tell which g a torch-saved file holds (what `import`/`eval` use without metadata).
    func testTorchSavedFilesAreDetectedByShape() throws {
        for v in Self.all {
            let source = try StateDictFiles.open(try Self.fixture(v.torchFile))
            let found = GeneratorStateDict.detectVariant(source, context: TestContext.standard)
            XCTAssertEqual(found?.backbone.name, v.backbone, v.key)
            XCTAssertEqual(found?.input, v.input, v.key)
        }
    }

    // MARK: Swift → torch

    private func checkSwiftExport(_ v: Variant) throws {
        let fx = try zFixture()
        let g = try Self.seededGenerator(v)
        // torch loaded this g: the same parameters bit for bit, the same statistics up to rounding.
        XCTAssertEqual(Self.parameterHash(g), fx.metadata["swift_\(v.key)_parameter_sha256"],
                       "\(v.key): Swift's seeded g changed; rerun the write step and the script")
        let (sum, abs) = Self.statisticsChecksum(g)
        let wantSum = Double(fx.metadata["swift_\(v.key)_stats_sum"]!)!, wantAbs = Double(fx.metadata["swift_\(v.key)_stats_abs"]!)!
        XCTAssertEqual(abs, wantAbs, accuracy: 1e-5 * wantAbs, "\(v.key): running statistics")
        XCTAssertEqual(sum, wantSum, accuracy: 1e-5 * wantAbs, "\(v.key): running statistics")
        for format in StateDictFormat.allCases {
            XCTAssertEqual(fx.metadata["swift_\(v.key)_\(format.rawValue)_strict_load"], "ok", "\(v.key) \(format)")
        }
        XCTAssertEqual(fx.metadata["swift_\(v.key)_metadata"], "ok", "\(v.key): the export's metadata as torch read it")
        _ = try compare(g, v, fx, prefix: "z_from_swift", label: "Swift-exported g → torch:")
    }

    func testSwiftImageMobileNetV2GLoadedInTorchGivesSwiftZ() throws { try checkSwiftExport(Self.image) }
    func testSwiftEmbeddingGLoadedInTorchGivesSwiftZ() throws { try checkSwiftExport(Self.embedding) }
    func testSwiftBothMobileNetV2GLoadedInTorchGivesSwiftZ() throws { try checkSwiftExport(Self.both) }

    /// Writes the inputs and Swift's exports for the script:
    /// AUTOSAM_INTEROP_FIXTURE_DIR=<dir> swift test … --filter InteropInputsParityTests/testWriteSwiftExportsForTorch,
    /// then fixtures_interop_inputs.py <dir>.
    func testWriteSwiftExportsForTorch() throws {
        guard let dir = ProcessInfo.processInfo.environment["AUTOSAM_INTEROP_FIXTURE_DIR"] else {
            throw XCTSkip("set AUTOSAM_INTEROP_FIXTURE_DIR to write Swift's exports for fixtures_interop_inputs.py")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let entries = Self.inputs().map { StateDictEntry(name: $0.name, shape: $0.tensor.shape, values: .float32($0.tensor.data)) }
        try InteropSupport.write(try SafetensorsWriter.encode(entries), dir + "/swift_inputs.safetensors")
        for v in Self.all {
            let g = try Self.seededGenerator(v)
            for format in StateDictFormat.allCases {
                try InteropSupport.write(try Self.export(g, v, format), dir + "/swift_g_\(v.key).\(format.rawValue)")
            }
            print("\(v.key): ΣK = \(Self.fanInSum(g)), tolerance \(Self.tolerance(g))")
        }
    }
}
