import Foundation
import TestSupport
import XCTest
@testable import Datasets

/// Reads the real files in ../shared/data/samples; skips when that folder is absent (a user's clone).
final class RealSampleTests: XCTestCase {
    func testPolypJPEGPairsLoadWithBinaryMasks() throws {
        let root = try TestPaths.sharedSamples() + "/polyp"
        let sets = try SegmentationDataset.discover(root)
        XCTAssertTrue(sets.map(\.name).contains("Kvasir"))
        for ds in sets {
            XCTAssertTrue(ds.skipped.isEmpty && ds.count > 0, ds.name)
            let (loaded, _) = try ds.loadAll()
            for s in loaded {
                let fg = s.mask.foregroundCount
                XCTAssertTrue(fg > 0 && fg < s.mask.pixels.count, "\(s.sample.name)")
                XCTAssertTrue(s.mask.pixels.allSatisfy { $0 <= 1 })
            }
        }
    }

    func testGlaSSamples() throws {
        let ds = try SegmentationDataset.discover(try TestPaths.sharedSamples() + "/GlaS")[0]
        XCTAssertGreaterThan(ds.count, 0)
        let s = try ds.load(0)
        XCTAssertEqual(s.image.width, 775); XCTAssertEqual(s.image.height, 522)
        let frac = Double(s.mask.foregroundCount) / Double(s.mask.pixels.count)
        XCTAssertTrue(frac > 0.1 && frac < 0.8, "\(frac)")   // PROVENANCE: 22–64 % foreground
    }

    func testMoNuSegTIFFAndXMLWithPolygonsCrossingTheBorder() throws {
        let root = try TestPaths.sharedSamples() + "/MoNuSeg/MoNuSeg 2018 Training Data"
        let ds = try SegmentationDataset.discover(root)[0]
        XCTAssertEqual(ds.layout, .monuseg)
        XCTAssertEqual(ds.count, 1)
        let s = try ds.load(0)
        XCTAssertEqual(s.image.width, 1000); XCTAssertEqual(s.image.height, 1000)
        let frac = Double(s.mask.foregroundCount) / 1e6
        XCTAssertEqual(frac, 0.119, accuracy: 0.02)   // PROVENANCE: 11.9 % nuclei (PIL drawing)
        let inst = try ds.loadInstances(0)
        XCTAssertGreaterThan(inst.instanceCount, 340)  // 359 regions, a few may be covered by later ones
        XCTAssertLessThanOrEqual(inst.instanceCount, 359)
    }

    func testRealImagePreprocessesForBothModels() throws {
        let ds = try SegmentationDataset.discover(try TestPaths.sharedSamples() + "/polyp/Kvasir")[0]
        let s = try ds.load(0)
        let lite = Preprocessing.image(s.image, side: 256, normalization: .minMax)
        XCTAssertEqual(lite.extent.width, 256)
        XCTAssertEqual(lite.data.max()!, 1, accuracy: 1e-6)
        let (m, e) = Preprocessing.mask(s.mask, side: 256)
        XCTAssertEqual(e, lite.extent)
        let back = Metrics.binarize(Preprocessing.toOriginal(m.map(Float.init), grid: 256, extent: e))
        XCTAssertGreaterThan(Metrics.dice(back, s.mask.pixels), 0.95)
    }
}
