import Foundation
import XCTest
@testable import Datasets

final class DatasetDiscoveryTests: XCTestCase {
    func pngMask(_ t: TempDir, _ rel: String, w: Int = 6, h: Int = 4) throws {
        try PNGCodec.write(Image(width: w, height: h, channels: 1, pixels: (0..<(w * h)).map { $0 % 3 == 0 ? 255 : 0 }), to: t.path(rel))
    }

    func testPraNetLayoutFindsEveryImagesMasksFolder() throws {
        let t = try TempDir()
        for (d, n) in [("TrainDataset", "1"), ("TestDataset/Kvasir", "a"), ("TestDataset/CVC-300", "b")] {
            try JPEGCodec.write(gradient(6, 4), to: t.path("\(d)/images/\(n).jpg"))
            try pngMask(t, "\(d)/masks/\(n).png")
        }
        try PNGCodec.write(gradient(6, 4), to: t.path("TestDataset/Kvasir/images/c.png"))
        try JPEGCodec.write(Image(width: 6, height: 4, channels: 1, pixels: [UInt8](repeating: 255, count: 24)), to: t.path("TestDataset/Kvasir/masks/c.jpg"))
        let sets = try SegmentationDataset.discover(t.url.path)
        XCTAssertEqual(sets.map(\.name), ["TestDataset/CVC-300", "TestDataset/Kvasir", "TrainDataset"])
        let kvasir = sets[1]
        XCTAssertEqual(kvasir.samples.map(\.name), ["a", "c"])
        XCTAssertEqual(kvasir.layout, .imagesMasks)
        let s = try kvasir.load(1)
        XCTAssertEqual(s.mask.foregroundCount, 24)
        XCTAssertEqual(s.image.channels, 3)
        // Pointing at one dataset folder works too.
        XCTAssertEqual(try SegmentationDataset.discover(t.path("TestDataset/Kvasir")).map(\.name), ["Kvasir"])
    }

    func testGlaSFlatFolderSplitsByPrefixAndBinarisesInstances() throws {
        let t = try TempDir()
        let palette = (0..<3).map { (UInt8($0), UInt8($0), UInt8($0)) }
        for n in ["train_1", "train_2", "testA_1", "testB_1"] {
            try TestBMP.write(width: 5, height: 3, bpp: 24, pixel: { x, y in [UInt8(x * 40), UInt8(y * 40), 9] }, to: t.path("GlaS/\(n).bmp"))
            try TestBMP.write(width: 5, height: 3, bpp: 8, palette: palette, pixel: { x, _ in [UInt8(x % 3)] }, to: t.path("GlaS/\(n)_anno.bmp"))
        }
        try t.write("name,grade\n", to: "GlaS/Grade.csv")
        let sets = try SegmentationDataset.discover(t.path("GlaS"))
        XCTAssertEqual(sets.map(\.name), ["GlaS/testA", "GlaS/testB", "GlaS/train"])
        XCTAssertEqual(sets[2].samples.map(\.name), ["train_1", "train_2"])
        XCTAssertTrue(sets[0].warnings.contains { $0.contains("Grade.csv") })
        XCTAssertEqual(try sets[0].load(0).mask.pixels, [0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1])
        XCTAssertEqual(try sets[0].loadInstances(0).instanceCount, 2)
    }

    func testMoNuSegBothLayouts() throws {
        let t = try TempDir()
        try TIFFCodec.write(gradient(50, 40), to: t.path("MoNuSeg/Tissue Images/TCGA-1.tif"))
        try t.write(MaskTests.xml, to: "MoNuSeg/Annotations/TCGA-1.xml")
        try TIFFCodec.write(gradient(50, 40), to: t.path("MoNuSegTestData/TCGA-2.tif"))
        try t.write(MaskTests.xml, to: "MoNuSegTestData/TCGA-2.xml")
        let sets = try SegmentationDataset.discover(t.url.path)
        XCTAssertEqual(sets.map(\.name), ["MoNuSeg", "MoNuSegTestData"])
        XCTAssertEqual(sets.map(\.layout), [.monuseg, .monuseg])
        let s = try sets[1].load(0)
        XCTAssertEqual(s.mask.width, 50)
        XCTAssertEqual(s.mask.foregroundCount, 50 + 20 + 100 + 2 + 9 * 10)  // region 5 clipped at row 40
    }

    func testSUNSEGWithEasyHardLists() throws {
        let t = try TempDir()
        for (c, f) in [("case1", "f1"), ("case1", "f2"), ("case2", "f1"), ("case3", "f9")] {
            try JPEGCodec.write(gradient(6, 4), to: t.path("SUN/Frame/\(c)/\(f).jpg"))
            try pngMask(t, "SUN/GT/\(c)/\(f).png")
        }
        try t.write("case1\n", to: "SUN/test_easy.txt")
        try t.write("case2/f1.jpg\n", to: "SUN/test_hard.txt")
        let sets = try SegmentationDataset.discover(t.path("SUN"))
        XCTAssertEqual(sets.map(\.name), ["SUN/easy", "SUN/hard", "SUN/unlisted"])
        XCTAssertEqual(sets[0].samples.map(\.name), ["case1/f1", "case1/f2"])
        XCTAssertEqual(sets[1].samples.map(\.name), ["case2/f1"])
        XCTAssertEqual(sets[2].samples.map(\.name), ["case3/f9"])
    }

    // MARK: malformed datasets, one test per case

    func testMissingDirectory() throws {
        let t = try TempDir()
        XCTAssertThrowsError(try SegmentationDataset.discover(t.path("nowhere"))) { e in
            XCTAssertTrue("\(e)".contains("nowhere") && "\(e)".contains("does not exist"), "\(e)")
        }
        try t.mkdir("empty")
        XCTAssertThrowsError(try SegmentationDataset.discover(t.path("empty"))) { e in
            XCTAssertTrue("\(e)".contains("no dataset found"), "\(e)")
        }
    }

    func testImageWithoutMask() throws {
        let t = try TempDir()
        try PNGCodec.write(gradient(6, 4), to: t.path("d/images/a.png"))
        try PNGCodec.write(gradient(6, 4), to: t.path("d/images/b.png"))
        try pngMask(t, "d/masks/a.png")
        XCTAssertThrowsError(try SegmentationDataset.discover(t.path("d"))) { e in
            XCTAssertTrue("\(e)".contains(t.path("d/images/b.png")) && "\(e)".contains("no mask"), "\(e)")
        }
        let sets = try SegmentationDataset.discover(t.path("d"), skipBad: true)
        XCTAssertEqual(sets[0].count, 1)
        XCTAssertEqual(sets[0].skipped.count, 1)
        XCTAssertTrue(sets[0].report.contains("skipped 1 file"), sets[0].report)
    }

    func testMaskOfDifferentSizeFailsAtLoad() throws {
        let t = try TempDir()
        try PNGCodec.write(gradient(6, 4), to: t.path("d/images/a.png"))
        try pngMask(t, "d/masks/a.png", w: 7, h: 4)
        try PNGCodec.write(gradient(6, 4), to: t.path("d/images/b.png"))
        try pngMask(t, "d/masks/b.png")
        let ds = try SegmentationDataset.discover(t.path("d"))[0]
        XCTAssertThrowsError(try ds.load(0)) { e in
            XCTAssertTrue("\(e)".contains(t.path("d/masks/a.png")) && "\(e)".contains("7x4"), "\(e)")
        }
        XCTAssertThrowsError(try ds.loadAll()) { e in XCTAssertEqual((e as? DatasetError)?.problems.count, 1) }
        let (ok, skipped) = try ds.loadAll(skipBad: true)
        XCTAssertEqual(ok.map(\.sample.name), ["b"])
        XCTAssertEqual(skipped.map(\.path), [t.path("d/masks/a.png")])
    }

    func testUnreadableFile() throws {
        let t = try TempDir()
        try PNGCodec.write(gradient(6, 4), to: t.path("d/images/a.png"))
        try FileManager.default.createSymbolicLink(atPath: t.path("d/masks/a.png"), withDestinationPath: t.path("gone.png"))
        XCTAssertThrowsError(try SegmentationDataset.discover(t.path("d"))) { e in
            XCTAssertTrue("\(e)".contains(t.path("d/masks/a.png")) && "\(e)".contains("cannot read"), "\(e)")
        }
        XCTAssertEqual(try SegmentationDataset.discover(t.path("d"), skipBad: true)[0].skipped.count, 1)
    }

    func testNonImageFile() throws {
        let t = try TempDir()
        try PNGCodec.write(gradient(6, 4), to: t.path("d/images/a.png"))
        try pngMask(t, "d/masks/a.png")
        try t.write("just text", to: "d/images/notes.txt")
        try t.write("also text", to: "d/images/fake.jpg")
        try pngMask(t, "d/masks/fake.png")
        XCTAssertThrowsError(try SegmentationDataset.discover(t.path("d"))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains(t.path("d/images/notes.txt")) && text.contains(t.path("d/images/fake.jpg")), text)
            XCTAssertTrue(text.contains("not an image"), text)
            XCTAssertEqual((e as? DatasetError)?.problems.count, 2)
        }
        let ds = try SegmentationDataset.discover(t.path("d"), skipBad: true)[0]
        XCTAssertEqual(ds.samples.map(\.name), ["a"])
        XCTAssertEqual(ds.skipped.count, 2)
    }

    func testCorruptImageFailsAtLoadNamingIt() throws {
        let t = try TempDir()
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]).write(to: URL(fileURLWithPath: t.path("d/images/a.png")))
        try pngMask(t, "d/masks/a.png")
        let ds = try SegmentationDataset.discover(t.path("d"))[0]
        XCTAssertThrowsError(try ds.load(0)) { e in XCTAssertTrue("\(e)".hasPrefix(t.path("d/images/a.png")), "\(e)") }
    }
}
