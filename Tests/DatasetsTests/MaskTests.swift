import Foundation
import XCTest
@testable import Datasets

final class MaskTests: XCTestCase {
    func testJPEGAndPNGMasksThresholdAt128() throws {
        let t = try TempDir()
        // RGB mask with equal channels, values around the threshold.
        let vals: [UInt8] = [0, 127, 128, 255]
        let rgb = Image(width: 4, height: 1, channels: 3, pixels: vals.flatMap { [$0, $0, $0] })
        try PNGCodec.write(rgb, to: t.path("m.png"))
        XCTAssertEqual(try MaskLoader.binary(t.path("m.png")).pixels, [0, 0, 1, 1])
        // A JPEG 0/255 mask comes back noisy but thresholds to the original.
        var px = [UInt8](repeating: 0, count: 32 * 32)
        for y in 8..<24 { for x in 4..<20 { px[y * 32 + x] = 255 } }
        try JPEGCodec.write(Image(width: 32, height: 32, channels: 1, pixels: px), to: t.path("m.jpg"), quality: 90)
        let m = try MaskLoader.binary(t.path("m.jpg"))
        XCTAssertEqual(m.pixels, px.map { $0 > 0 ? 1 : 0 })
    }

    func testGlaSInstanceLabelsBinariseAboveZero() throws {
        let t = try TempDir()
        let palette = (0..<4).map { (UInt8($0), UInt8($0), UInt8($0)) }
        try TestBMP.write(width: 4, height: 1, bpp: 8, palette: palette, pixel: { x, _ in [UInt8(x)] }, to: t.path("a_anno.bmp"))
        XCTAssertEqual(try MaskLoader.binary(t.path("a_anno.bmp"), rule: .nonZero).pixels, [0, 1, 1, 1])
        let inst = try MaskLoader.instances(t.path("a_anno.bmp"))
        XCTAssertEqual(inst.labels, [0, 1, 2, 3])
        XCTAssertEqual(inst.instanceCount, 3)
    }

    func testMaskOfAnotherSizeThanItsImageThrows() throws {
        let t = try TempDir()
        try PNGCodec.write(Image(width: 5, height: 4, channels: 1, pixels: [UInt8](repeating: 255, count: 20)), to: t.path("m.png"))
        XCTAssertThrowsError(try MaskLoader.binary(t.path("m.png"), imageWidth: 6, imageHeight: 4)) { e in
            XCTAssertEqual((e as? ImageError)?.path, t.path("m.png"))
            XCTAssertTrue("\(e)".contains("5x4") && "\(e)".contains("6x4"), "\(e)")
        }
    }

    static let xml = """
    <?xml version="1.0" encoding="UTF-8"?>
    <Annotations MicronsPerPixel="0.25">
      <Annotation Id="1"><Regions>
        <RegionAttributeHeaders><AttributeHeader Id="9999" Name="Region"/></RegionAttributeHeaders>
        <Region Id="1"><Vertices>
          <Vertex X="2" Y="3"/><Vertex X="12" Y="3"/><Vertex X="12" Y="8"/><Vertex X="2" Y="8"/>
        </Vertices></Region>
        <Region Id="2"><Vertices>
          <Vertex X="12" Y="3"/><Vertex X="16" Y="3"/><Vertex X="16" Y="8"/><Vertex X="12" Y="8"/>
        </Vertices></Region>
        <Region Id="3"><Vertices>
          <Vertex X="20" Y="10"/><Vertex X="30" Y="10"/><Vertex X="20" Y="30"/>
        </Vertices></Region>
        <Region Id="4"><Vertices>
          <Vertex X="-5" Y="-3"/><Vertex X="1" Y="-3"/><Vertex X="1" Y="2"/><Vertex X="-5" Y="2"/>
        </Vertices></Region>
        <Region Id="5"><Vertices>
          <Vertex X="36.5" Y="30"/><Vertex X="45" Y="30"/><Vertex X="45" Y="44"/><Vertex X="36.5" Y="44"/>
        </Vertices></Region>
      </Regions></Annotation>
    </Annotations>
    """

    func testAperioPolygonsRasteriseToTheirExactArea() throws {
        let t = try TempDir()
        try t.write(Self.xml, to: "a.xml")
        // Image 40 × 35: region 5 crosses the right and bottom borders.
        let inst = try MaskLoader.instances(t.path("a.xml"), imageWidth: 40, imageHeight: 35)
        let area = { (l: Int32) in inst.labels.filter { $0 == l }.count }
        XCTAssertEqual(area(1), 50)            // 10 × 5 rectangle
        XCTAssertEqual(area(2), 20)            // 4 × 5 rectangle sharing an edge with region 1
        XCTAssertEqual(area(3), 100)           // right triangle, legs 10 and 20: area 100, no centre on an edge
        XCTAssertEqual(area(4), 2)             // (-5,-3)–(1,2) clipped to x 0..<1, y 0..<2
        XCTAssertEqual(area(5), 4 * 5)         // columns 36…39 (centre ≥ 36.5, clipped at 40), rows 30..<35
        XCTAssertEqual(inst.instanceCount, 5)  // touching nuclei 1 and 2 stay separate
        XCTAssertEqual(inst.labels[3 * 40 + 11], 1)
        XCTAssertEqual(inst.labels[3 * 40 + 12], 2)
        let mask = try MaskLoader.binary(t.path("a.xml"), imageWidth: 40, imageHeight: 35)
        XCTAssertEqual(mask.foregroundCount, 50 + 20 + 100 + 2 + 20)
    }

    func testMalformedXMLAndMissingSizeThrow() throws {
        let t = try TempDir()
        try t.write("<Annotations><Region><Vertices><Vertex X=\"1\" Y=\"2\"></Vertices>", to: "broken.xml")
        XCTAssertThrowsError(try MaskLoader.binary(t.path("broken.xml"), imageWidth: 5, imageHeight: 5)) { e in
            XCTAssertEqual((e as? ImageError)?.path, t.path("broken.xml"))
            XCTAssertTrue("\(e)".contains("malformed XML"), "\(e)")
        }
        try t.write("<Annotations><Region><Vertices><Vertex X=\"a\" Y=\"2\"/></Vertices></Region></Annotations>", to: "nan.xml")
        XCTAssertThrowsError(try MaskLoader.binary(t.path("nan.xml"), imageWidth: 5, imageHeight: 5)) { e in
            XCTAssertTrue("\(e)".contains("numeric"), "\(e)")
        }
        try t.write("<svg><rect/></svg>", to: "svg.xml")
        XCTAssertThrowsError(try MaskLoader.binary(t.path("svg.xml"), imageWidth: 5, imageHeight: 5)) { e in
            XCTAssertTrue("\(e)".contains("not an Aperio"), "\(e)")
        }
        try t.write(Self.xml, to: "ok.xml")
        XCTAssertThrowsError(try MaskLoader.binary(t.path("ok.xml"))) { e in XCTAssertTrue("\(e)".contains("size"), "\(e)") }
    }
}
