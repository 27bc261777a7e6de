import Foundation
import TestSupport
import XCTest
@testable import Network

final class TorchCheckpointTests: XCTestCase {
    // MARK: helpers

    private func fixturePath(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "pth", subdirectory: "Fixtures") else {
            throw NetworkError.invalidArgument("fixture \(name).pth missing: run Tools/reference/make_pth_fixtures.py")
        }
        return url.path
    }

    private func open(_ name: String) throws -> TorchCheckpoint {
        try TorchCheckpoint(path: fixturePath(name))
    }

    private func tempFile(_ bytes: Data, _ name: String = #function) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("TorchCheckpointTests-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name.filter { $0.isLetter || $0.isNumber } + ".pth")
        try bytes.write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// A minimal STORED zip archive (CRCs left 0: the reader does not check them).
    private func makeZip(_ members: [(String, [UInt8])]) -> Data {
        var out = Data(), central = Data()
        func u16(_ v: Int, _ d: inout Data) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        func u32(_ v: Int, _ d: inout Data) { withUnsafeBytes(of: UInt32(v).littleEndian) { d.append(contentsOf: $0) } }
        for (name, bytes) in members {
            let n = Array(name.utf8), offset = out.count
            u32(0x0403_4b50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0, &out)
            u32(0, &out); u32(bytes.count, &out); u32(bytes.count, &out); u16(n.count, &out); u16(0, &out)
            out.append(contentsOf: n); out.append(contentsOf: bytes)
            u32(0x0201_4b50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(bytes.count, &central); u32(bytes.count, &central)
            u16(n.count, &central); u16(0, &central); u16(0, &central); u16(0, &central); u16(0, &central)
            u32(0, &central); u32(offset, &central); central.append(contentsOf: n)
        }
        let cdOffset = out.count
        out.append(central)
        u32(0x0605_4b50, &out); u16(0, &out); u16(0, &out); u16(members.count, &out); u16(members.count, &out)
        u32(central.count, &out); u32(cdOffset, &out); u16(0, &out)
        return out
    }

    /// Opening must fail with a TorchCheckpointError for `path` whose problem mentions `needle`.
    private func assertOpenFails(_ path: String, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try TorchCheckpoint(path: path)
            XCTFail("opening \(path) should fail with “\(needle)”", file: file, line: line)
        } catch let e as TorchCheckpointError {
            XCTAssertEqual(e.path, path, file: file, line: line)
            XCTAssertTrue(e.problem.contains(needle), "“\(e.problem)” should mention “\(needle)”", file: file, line: line)
            XCTAssertEqual(e.description, "\(path): \(e.problem)", file: file, line: line)
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
    }

    private func assertSame(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        XCTAssertEqual(a.data.map(\.bitPattern), b.data.map(\.bitPattern), what, file: file, line: line)
    }

    private func expectedInts(_ fx: Fixture, _ key: String) -> [Int64] {
        let all = fx.meta["int64"] as! [String: Any]
        return (all[key] as! [NSNumber]).map { $0.int64Value }
    }

    // MARK: values

    func testEveryDtypeReadsExactly() throws {
        let fx = try Fixture("pth_expected")
        let ck = try open("pth_dtypes")
        XCTAssertEqual(ck.keys, fx.meta["dtypes_keys"] as! [String])
        for key in ck.keys where key != "f16_special" {
            let want = fx["dtypes/\(key)"]
            XCTAssertEqual(ck.shape(key), want.shape, key)
            assertSame(try ck.tensor(key), want, key)
        }
        XCTAssertEqual(ck.dtype("f16"), .float16)
        XCTAssertEqual(ck.dtype("bf16"), .bfloat16)
        XCTAssertEqual(try ck.tensor("f16").data[4].sign, .minus, "float16 -0.0 keeps its sign")
        XCTAssertEqual(try ck.tensor("f16").data[2], 0x1p-24, "float16 subnormal")
        XCTAssertEqual(try ck.tensor("f16").data[5], 0.0999755859375, "float16 0.1 rounds to 0x2E66")
        let special = try ck.tensor("f16_special").data
        XCTAssertEqual(special[0], .infinity)
        XCTAssertEqual(special[1], -.infinity)
        XCTAssertTrue(special[2].isNaN)
        for key in ["i64", "i32", "i16", "i8", "u8", "b", "bn.num_batches_tracked"] {
            XCTAssertEqual(try ck.int64s(key), expectedInts(fx, "dtypes/\(key)"), key)
        }
        XCTAssertEqual(try ck.int64s("i64")[2], (1 << 53) + 1, "int64 beyond Float precision is exact")
        XCTAssertEqual(ck.shape("bn.num_batches_tracked"), [])
        XCTAssertEqual(ck.shape("empty"), [0, 3])
        XCTAssertEqual(ck.shape("nope"), nil)
        XCTAssertThrowsError(try ck.int64s("f32")) { XCTAssertTrue("\($0)".contains("not an integer tensor")) }
        XCTAssertThrowsError(try ck.tensor("nope")) { XCTAssertTrue("\($0)".contains("no tensor named nope")) }
    }

    func testStridedOffsetAndSharedStorageViews() throws {
        let fx = try Fixture("pth_expected")
        let ck = try open("pth_views")
        XCTAssertEqual(ck.keys, ["base", "t", "row", "col", "block", "half_t", "bcast"])
        for key in ck.keys { assertSame(try ck.tensor(key), fx["views/\(key)"], key) }
        XCTAssertEqual(try ck.tensor("t").shape, [4, 4])
        XCTAssertEqual(try ck.tensor("bcast").data, [0, 1, 2, 0, 1, 2])
    }

    func testWrappersProtocol4AndZip64() throws {
        let fx = try Fixture("pth_expected")
        for name in ["pth_wrapped_model", "pth_wrapped_state_dict", "pth_proto4", "pth_zip64"] {
            let ck = try open(name)
            XCTAssertEqual(ck.keys, ["w", "n"], name)
            assertSame(try ck.tensor("w"), fx["small/w"], name)
            XCTAssertEqual(try ck.int64s("n"), [1, 2, 3], name)
        }
    }

    // MARK: loading into a model

    private func moduleStore(_ names: [(String, [Int])]) -> ParameterStore {
        let store = ParameterStore()
        for (n, s) in names { store.register(n, Tensor(zeros: s)) }
        return store
    }

    func testLegacyFormatReadsLikeTheZipFormat() throws {
        let fx = try Fixture("pth_expected")
        let views = try open("pth_legacy_views")
        XCTAssertEqual(views.keys, ["base", "t", "row", "col", "block", "half_t", "bcast"])
        for key in views.keys { assertSame(try views.tensor(key), fx["views/\(key)"], "legacy \(key)") }
        let module = try open("pth_legacy_module")
        XCTAssertEqual(module.keys, fx.meta["module_keys"] as! [String])
        for key in module.keys where !key.hasSuffix("num_batches_tracked") {
            assertSame(try module.tensor(key), fx["module/\(key)"], "legacy \(key)")
        }
        XCTAssertEqual(try module.int64s("1.num_batches_tracked"), try open("pth_module").int64s("1.num_batches_tracked"))
    }

    func testTruncatedOrDamagedLegacyFile() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: fixturePath("pth_legacy_module")))
        assertOpenFails(try tempFile(full.prefix(full.count - 3), "tail"), "truncated")
        assertOpenFails(try tempFile(full.prefix(full.count / 2), "half"), "legacy checkpoint")
        assertOpenFails(try tempFile(full.prefix(20), "head"), "legacy checkpoint")
        // The storages end the file: 7 of them (conv weight 6 floats, 5 tensors of 3 floats,
        // num_batches_tracked 1 int64), each an int64 element count and its data, so the
        // first count starts 7·8 + 21·4 + 8 bytes before the end. Make it one larger.
        var bytes = [UInt8](full)
        bytes[bytes.count - (7 * 8 + 21 * 4 + 8)] &+= 1
        assertOpenFails(try tempFile(Data(bytes), "count"), "elements; its tensors say")
    }

    func testLoadFillsEveryParameter() throws {
        let fx = try Fixture("pth_expected")
        let ck = try open("pth_module")
        XCTAssertEqual(ck.keys, fx.meta["module_keys"] as! [String])
        let names: [(String, [Int])] = [("0.weight", [3, 2, 1, 1]), ("0.bias", [3]), ("1.weight", [3]),
                                        ("1.bias", [3]), ("1.running_mean", [3]), ("1.running_var", [3])]
        let store = moduleStore(names)
        // num_batches_tracked is in the file but not in the model: unexpected unless ignored.
        XCTAssertThrowsError(try ck.load(into: store)) {
            XCTAssertEqual(($0 as? StateDictMismatchError)?.unexpected, ["1.num_batches_tracked"])
        }
        XCTAssertEqual(try ck.load(into: store, ignoring: { $0.hasSuffix("num_batches_tracked") }), 6)
        for (n, _) in names { assertSame(store.tensor(store[n]!), fx["module/\(n)"], n) }

        // Prefix filter: only "1." keys, prefix stripped.
        let bn = moduleStore([("weight", [3]), ("bias", [3]), ("running_mean", [3]), ("running_var", [3]),
                              ("num_batches_tracked", [])])
        XCTAssertEqual(try ck.load(into: bn, prefix: "1."), 5)
        assertSame(bn.tensor(bn["running_var"]!), fx["module/1.running_var"], "prefixed")
        XCTAssertEqual(bn.tensor(bn["num_batches_tracked"]!).data, [0])
    }

    func testLoadMismatchListsEveryOffendingName() throws {
        let ck = try open("pth_module")
        let store = moduleStore([("0.weight", [3, 2]), ("0.bias", [3]), ("0.extra", [1]), ("1.weight", [4]),
                                 ("1.bias", [3]), ("1.gone", [2])])
        do {
            try ck.load(into: store)
            XCTFail("mismatched load should throw")
        } catch let e as StateDictMismatchError {
            XCTAssertEqual(e.missing, ["0.extra", "1.gone"])
            XCTAssertEqual(e.unexpected, ["1.running_mean", "1.running_var", "1.num_batches_tracked"])
            XCTAssertEqual(e.wrongShape, [.init(name: "0.weight", expected: [3, 2], found: [3, 2, 1, 1]),
                                          .init(name: "1.weight", expected: [4], found: [3])])
            for name in ["0.extra", "1.gone", "1.running_mean", "1.num_batches_tracked", "0.weight", "1.weight"] {
                XCTAssertTrue(e.description.contains(name), "\(e.description) should list \(name)")
            }
            XCTAssertTrue(e.description.hasPrefix(ck.path + ": "))
        }
        XCTAssertEqual(store.values.allSatisfy { $0 == 0 }, true, "nothing is assigned when the check fails")
    }

    // MARK: malformed files

    func testNotAZip() throws {
        assertOpenFails(try tempFile(Data("this is certainly not a zip archive".utf8)), "not a zip archive")
        assertOpenFails(try tempFile(Data(), "empty"), "not a zip archive")
        assertOpenFails(try tempFile(Data([0x80, 0x02, 0x8a, 0x0a]), "legacy"), "legacy")
        assertOpenFails("/nonexistent/dir/model.pth", "cannot open file")
    }

    func testTruncatedZip() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: fixturePath("pth_dtypes")))
        assertOpenFails(try tempFile(full.prefix(full.count / 2)), "truncated")
        assertOpenFails(try tempFile(full.prefix(full.count - 30), "tail"), "truncated")
    }

    func testMissingDataPkl() throws {
        let path = try tempFile(makeZip([("archive/version", Array("3\n".utf8)), ("archive/data/0", [0, 0, 0, 0])]))
        assertOpenFails(path, "no <root>/data.pkl")
    }

    func testUnsupportedPickleOpcode() throws {
        // PROTO 2, EMPTY_SET (a protocol 4 opcode a state dict never uses), STOP.
        let path = try tempFile(makeZip([("archive/data.pkl", [0x80, 0x02, 0x8f, 0x2e])]))
        assertOpenFails(path, "0x8f EMPTY_SET")
        assertOpenFails(path, "unsupported pickle opcode")
    }

    func testUnsupportedGlobalTruncatedPickleAndBadRoot() throws {
        let evil = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x2e]
        assertOpenFails(try tempFile(makeZip([("archive/data.pkl", evil)]), "global"), "unsupported global os.system")
        assertOpenFails(try tempFile(makeZip([("archive/data.pkl", [0x80, 0x02, 0x7d])]), "short"), "ends before STOP")
        assertOpenFails(try tempFile(makeZip([("archive/data.pkl", [0x80, 0x02, 0x4b, 0x07, 0x2e])]), "int"),
                        "holds a int, not a state dict")
    }

    func testCompressedEntryAndMissingStorage() throws {
        assertOpenFails(try fixturePath("pth_deflated"), "compressed (deflate)")
        // The pickle of pth_proto4 without its storages.
        let file = try MappedFile(path: fixturePath("pth_proto4"))
        let zip = try ZipArchive(bytes: file.bytes)
        let pkl = zip.entries.first { $0.name.hasSuffix("/data.pkl") }!
        let bytes = Array(file.bytes[try zip.dataRange(of: pkl)])
        assertOpenFails(try tempFile(makeZip([(pkl.name, bytes)])), "data/0 is missing")
        // A storage entry shorter than its element count says ("w" is 4 floats, "n" 3 int64s).
        let root = String(pkl.name.dropLast("data.pkl".count))
        let short = makeZip([(pkl.name, bytes), (root + "data/0", [0, 0, 0, 0]), (root + "data/1", [0, 0])])
        assertOpenFails(try tempFile(short, "short"), "holds 4 bytes")
        assertOpenFails(NSTemporaryDirectory(), "not a regular file")
    }

    // MARK: the real LiteMedSAM checkpoint (Launch/fetch-weights.sh)

    private static var liteMedSAMPath: String { TestPaths.liteMedSAMWeights }

    private func procStatus(_ field: String) -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
                .map { $0 * 1024 }
        }
        return nil
    }

    func testLiteMedSAMCheckpoint() throws {
        let path = Self.liteMedSAMPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("weights/lite_medsam.pth absent: run Launch/fetch-weights.sh")
        }
        // Reset the peak-RSS counter (Linux) so VmHWM measures this test only.
        let resetPeak = FileManager.default.isWritableFile(atPath: "/proc/self/clear_refs")
            && (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
        let rssBefore = procStatus("VmRSS") ?? 0

        let start = Date()
        let ck = try TorchCheckpoint(path: path)
        let opened = Date().timeIntervalSince(start)
        var all: [Tensor] = []
        all.reserveCapacity(ck.keys.count)
        for key in ck.keys { all.append(try ck.tensor(key)) }
        let loaded = Date().timeIntervalSince(start)
        let floats = all.reduce(0) { $0 + $1.count }
        let peak = procStatus("VmHWM") ?? 0

        XCTAssertEqual(ck.keys.count, 435)
        XCTAssertEqual(ck.keys.first, "image_encoder.patch_embed.seq.0.c.weight")
        XCTAssertEqual(ck.keys.last, "prompt_encoder.no_mask_embed.weight")
        XCTAssertEqual(ck.keys.filter { $0.hasPrefix("image_encoder.") }.count, 298)
        XCTAssertEqual(ck.keys.filter { $0.hasPrefix("mask_decoder.") }.count, 120)
        XCTAssertEqual(ck.keys.filter { $0.hasPrefix("prompt_encoder.") }.count, 17)
        XCTAssertEqual(ck.keys.filter { $0.hasSuffix("num_batches_tracked") }.count, 27)
        XCTAssertEqual(ck.shape("mask_decoder.iou_token.weight"), [1, 256])
        XCTAssertEqual(ck.shape("mask_decoder.mask_tokens.weight"), [4, 256])
        XCTAssertEqual(ck.shape("image_encoder.patch_embed.seq.0.c.weight"), [32, 3, 1, 1])
        XCTAssertEqual(ck.shape("image_encoder.neck.0.weight"), [256, 320, 1, 1])
        XCTAssertEqual(ck.shape("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"), [2, 128])
        let iou = try ck.tensor("mask_decoder.iou_token.weight")
        XCTAssertEqual(Array(iou.data.prefix(3)), [-0.0032487905118614435, 0.29027700424194336, -0.012701204046607018])
        let neck = try ck.tensor("image_encoder.neck.0.weight").data.reduce(0.0) { $0 + Double($1) }
        XCTAssertEqual(neck, -3.3807150336495155, accuracy: 1e-4)
        XCTAssertEqual(try ck.int64s("image_encoder.patch_embed.seq.0.bn.num_batches_tracked"), [4416366])
        // 9,801,412 float parameters + 27 num_batches_tracked scalars.
        XCTAssertEqual(floats, 9_801_412 + 27)

        let fileBytes = 39_370_479
        let growth = peak - rssBefore
        print(String(format: "lite_medsam.pth: open %.3f s, all %d tensors %.3f s; RSS before %.1f MB, peak %.1f MB (+%.1f MB; Float copies %.1f MB)",
                     opened, all.count, loaded, Double(rssBefore) / 1e6, Double(peak) / 1e6, Double(growth) / 1e6,
                     Double(floats * 4) / 1e6))
        XCTAssertLessThan(loaded, 10, "reading the checkpoint should take well under 10 s even in a debug build")
        if resetPeak, peak > 0 {
            // One Float copy of every tensor is kept (~39 MB); the mapped file pages are
            // handed back as tensors are copied, so the peak stays far below two copies.
            XCTAssertLessThan(growth, fileBytes + fileBytes / 2, "peak RSS grew by \(growth) bytes")
        }

        // Loader on real names: the mask decoder alone, prefix stripped.
        let store = ParameterStore()
        for key in ck.keys where key.hasPrefix("mask_decoder.") {
            store.register(String(key.dropFirst("mask_decoder.".count)), Tensor(zeros: ck.shape(key)!))
        }
        XCTAssertEqual(try ck.load(into: store, prefix: "mask_decoder."), 120)
        assertSame(store.tensor(store["iou_token.weight"]!), iou, "loaded iou_token")
    }
}
