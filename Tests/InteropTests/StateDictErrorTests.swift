import Foundation
import Network
import TestSupport
import Training
import XCTest

/// Files that do not fit g: each error names the file and the offending keys; nothing is
/// half-loaded.
final class StateDictErrorTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws { dir = try InteropSupport.tempDir() }

    /// g's entries, changed by `edit`, written in `format`.
    private func file(_ name: String, _ format: StateDictFormat, metadata: InteropMetadata = InteropMetadata(module: "ModelEmb"),
                      _ edit: (inout [StateDictEntry]) -> Void) throws -> String {
        var entries = GeneratorStateDict.entries(InteropSupport.seededGenerator(), batchesTracked: 1)
        edit(&entries)
        let path = dir + "/" + name + "." + format.rawValue
        try InteropSupport.write(try format.encode(entries, metadata: metadata), path)
        return path
    }

    private func assertImportFails(_ path: String, mentions words: [String], file: StaticString = #filePath, line: UInt = #line) {
        let g = InteropSupport.seededGenerator(seed: 42)
        let before = g.store.values
        XCTAssertThrowsError(try GeneratorImport.load(path, into: g, expecting: .init(variant: .hardnet39DS)), file: file, line: line) { e in
            let text = "\(e)"
            for w in [path] + words { XCTAssertTrue(text.contains(w), "\(w) not in: \(text)", file: file, line: line) }
        }
        XCTAssertEqual(g.store.values, before, "nothing assigned", file: file, line: line)
    }

    func testWrongShapeNamesTheKeyAndBothShapes() throws {
        for f in StateDictFormat.allCases {
            let p = try file("shape", f) { e in
                let i = e.firstIndex { $0.name == "decoder.up2.conv1.bias" }!
                e[i] = StateDictEntry(name: e[i].name, shape: [95], values: .float32(Array(repeating: 0, count: 95)))
            }
            assertImportFails(p, mentions: ["wrong shape", "decoder.up2.conv1.bias (model [96], checkpoint [95])"])
        }
    }

    func testMissingAndUnexpectedKeysAreListed() throws {
        for f in StateDictFormat.allCases {
            let missing = try file("missing", f) { e in e.removeAll { $0.name.hasPrefix("decoder.final.conv2.") } }
            assertImportFails(missing, mentions: ["2 missing", "decoder.final.conv2.weight", "decoder.final.conv2.bias"])
            let extra = try file("extra", f) { e in
                e.append(StateDictEntry(name: "decoder.head.weight", shape: [2], values: .float32([1, 2])))
            }
            assertImportFails(extra, mentions: ["1 unexpected", "decoder.head.weight"])
        }
    }

    /// Recorded metadata of another variant is refused before any tensor is compared; a file
    /// without metadata that fits another variant is recognised by its shapes.
    func testAnotherVariantIsNamed() throws {
        let meta = InteropMetadata(module: "ModelEmb", hardnetVariant: "hardnet68")
        for f in StateDictFormat.allCases {
            let tagged = try file("tagged68", f, metadata: meta) { _ in }
            assertImportFails(tagged, mentions: ["hardnet68", "hardnet39ds", "hardnet_variant"])
        }
        var rng = SeededRNG(seed: 1)
        let g68 = PromptGenerator(variant: .hardnet68, context: TestContext.standard, rng: &rng)
        let path = dir + "/g68.safetensors"
        try InteropSupport.write(try SafetensorsWriter.encode(GeneratorStateDict.entries(g68, batchesTracked: 0)), path)
        assertImportFails(path, mentions: ["holds a hardnet68 g, not a hardnet39ds one", "missing", "unexpected"])
    }

    func testHStateDictIsNotG() throws {
        let p = try file("h", .pth, metadata: InteropMetadata(module: "ModelH")) { _ in }
        assertImportFails(p, mentions: ["ModelH", "not g"])
    }

    func testTruncatedFilesAreReported() throws {
        for f in StateDictFormat.allCases {
            let p = try file("whole", f) { _ in }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: p))
            for keep in [bytes.count / 2, bytes.count - 10, 5] {
                let cut = dir + "/cut\(keep)." + f.rawValue
                try bytes.prefix(keep).write(to: URL(fileURLWithPath: cut))
                assertImportFails(cut, mentions: f == .pth ? ["truncated"] : ["truncated"])
            }
        }
    }

    /// Hand-made safetensors headers that lie: errors, never a crash.
    func testDamagedSafetensorsHeaders() throws {
        let cases: [(String, String)] = [
            ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824,1073741824],\"data_offsets\":[0,4]}}", "w: data_offsets"),
            ("{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", "w: unsupported dtype Q7"),
            ("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "w: data (bytes 0..<16) runs past the end"),
            ("not json", "not a JSON object"),
        ]
        for (i, (header, words)) in cases.enumerated() {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
            bytes += Array(header.utf8) + [0, 0, 0, 0]
            let p = dir + "/bad\(i).safetensors"
            try InteropSupport.write(bytes, p)
            assertImportFails(p, mentions: [words])
        }
    }

    func testNotAStateDict() throws {
        let ck = dir + "/run.ckpt"
        try Data("ASCK0001 and more".utf8).write(to: URL(fileURLWithPath: ck))
        assertImportFails(ck, mentions: ["autosam-dist checkpoint", "export"])
        assertImportFails(dir + "/absent.pth", mentions: ["cannot open"])
    }

    /// A torch-saved file with metadata for other SAM weights, loss and input side: loads, with
    /// each difference reported.
    func testOtherSAMHashIsAWarning() throws {
        let meta = InteropMetadata(module: "ModelEmb", hardnetVariant: "hardnet39ds", sam: "lite_medsam",
                                   samSHA256: String(repeating: "0", count: 64), inputSize: 256, lossActivation: "minmax")
        let p = try file("othersam", .safetensors, metadata: meta) { _ in }
        let g = InteropSupport.seededGenerator(seed: 2)
        let r = try GeneratorImport.load(p, into: g, expecting: .init(variant: .hardnet39DS, sam: .liteMedSAM,
                                                                      samSHA256: String(repeating: "f", count: 64), lossActivation: .sigmoid,
                                                                      inputSize: 320))
        XCTAssertEqual(r.warnings.count, 3, "\(r.warnings)")
        XCTAssertTrue(r.warnings[0].contains("256² inputs, used here on 320² (generator.input_size)"), r.warnings[0])
        XCTAssertTrue(r.warnings[1].contains("other SAM weights") && r.warnings[1].contains(p), r.warnings[1])
        XCTAssertTrue(r.warnings[2].contains("minmax"), r.warnings[2])
    }

    func testInitFromConflictsWithPretrained() throws {
        var cfg = TrainConfig()
        cfg.generator.pretrained = "hardnet.pth"
        cfg.generator.initFrom = "g.safetensors"
        XCTAssertThrowsError(try cfg.check(path: "c.yaml")) { e in
            XCTAssertTrue("\(e)".contains("generator.pretrained (hardnet.pth) and generator.init_from / --init-from (g.safetensors)"), "\(e)")
        }
    }
}
