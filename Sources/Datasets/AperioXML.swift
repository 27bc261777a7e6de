import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Aperio ImageScope annotation XML as MoNuSeg ships it: `Annotations/Annotation/Regions/Region/
/// Vertices/Vertex X= Y=`, one Region per nucleus, coordinates in image pixels.
public enum AperioXML {
    /// The polygons (one per Region, in file order). Regions with fewer than 3 vertices have no area
    /// and are dropped.
    public static func read(_ path: String) throws -> [[PolygonRasterizer.Point]] {
        let data = try FileBytes.read(path)
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws -> [[PolygonRasterizer.Point]] {
        let collector = Collector()
        let parser = XMLParser(data: data)
        parser.delegate = collector
        let ok = parser.parse()
        if let problem = collector.problem {
            throw ImageError(path: path, problem: "bad Aperio annotation: \(problem)")
        }
        // swift-corelibs-foundation's parse() can return true after libxml2 reported an error (unclosed
        // elements at the end of input), so the delegate's record counts too.
        if !ok || collector.parseError != nil || parser.parserError != nil || !collector.closedRoot {
            let e = (collector.parseError ?? parser.parserError).map { ($0 as NSError).localizedDescription }
                ?? "unexpected end of document (unclosed elements)"
            throw ImageError(path: path, problem: "malformed XML at line \(collector.errorLine ?? parser.lineNumber): \(e)")
        }
        guard collector.sawAnnotations else {
            throw ImageError(path: path, problem: "not an Aperio annotation (no <Annotations> or <Region> element)")
        }
        return collector.regions.filter { $0.count >= 3 }
    }

    /// The rasterised instance map (nucleus i → label i + 1) at the image's size.
    public static func instances(_ path: String, width: Int, height: Int) throws -> InstanceMap {
        PolygonRasterizer.instances(try read(path), width: width, height: height)
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var regions: [[PolygonRasterizer.Point]] = []
        var current: [PolygonRasterizer.Point]? = nil
        var sawAnnotations = false
        var problem: String? = nil
        var parseError: Error? = nil
        var errorLine: Int? = nil
        var depth = 0
        var closedRoot = false

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
            if self.parseError == nil {
                self.parseError = parseError
                errorLine = parser.lineNumber
            }
        }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            depth += 1
            switch name {
            case "Annotations", "Annotation", "Regions": sawAnnotations = true
            case "Region":
                sawAnnotations = true
                current = []
            case "Vertex":
                guard current != nil else { return }
                guard let xs = attributes["X"], let ys = attributes["Y"],
                      let x = Double(xs.trimmingCharacters(in: .whitespaces)),
                      let y = Double(ys.trimmingCharacters(in: .whitespaces)), x.isFinite, y.isFinite else {
                    problem = "Vertex at line \(parser.lineNumber) lacks numeric X and Y attributes"
                    parser.abortParsing()
                    return
                }
                current!.append((x, y))
            default: break
            }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            depth -= 1
            if depth == 0 { closedRoot = true }
            if name == "Region", let poly = current {
                regions.append(poly)
                current = nil
            }
        }
    }
}
