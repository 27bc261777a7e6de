import Foundation
import XCTest
@testable import Training

/// `train --print-config` and Configs/README.md cover every key the config decoder accepts.
final class ConfigReferenceTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testSectionsAreTheDecodersSections() {
        XCTAssertEqual(TrainConfig.sections.map(\.name), TrainConfig.CodingKeys.allCases.map(\.stringValue))
        XCTAssertTrue(TrainConfig.keyPaths.contains("output.checkpoint_every_steps"))
        XCTAssertEqual(Set(TrainConfig.keyPaths).count, TrainConfig.keyPaths.count)
    }

    func testResolvedYAMLListsEveryKeyAndReadsBack() throws {
        let c = try TrainConfig.parse("generator: {backbone: hardnet39ds}\noutput: {checkpoint_every_steps: 5}\ndata: {test: [a, b]}\n")
        let text = try c.resolvedYAML()
        XCTAssertEqual(try TrainConfig.parse(text), c)
        for key in TrainConfig.keyPaths {
            let parts = key.split(separator: ".")
            XCTAssertTrue(text.contains("\n  \(parts[1]):") || text.hasPrefix("\(parts[0]):\n  \(parts[1]):"), "\(key) missing:\n\(text)")
        }
        XCTAssertEqual(try c.resolvedValue("generator.pretrained"), "null")
        XCTAssertEqual(try c.resolvedValue("output.checkpoint_every_steps"), "5")
        XCTAssertEqual(try c.resolvedValue("generator.backbone"), "hardnet39ds")
        XCTAssertEqual(try c.resolvedValue("data.test"), "[a, b]")
    }

    /// Each key has a row `| `key` | `default` | … |` whose default is the one TrainConfig() prints.
    func testConfigsReadmeDocumentsEveryKeyWithItsDefault() throws {
        let path = Self.packageRoot.appendingPathComponent("Configs/README.md").path
        let doc = try String(contentsOfFile: path, encoding: .utf8)
        var rows: [String: String] = [:]
        for line in doc.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 3 else { continue }
            rows[cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[2]
        }
        let defaults = TrainConfig()
        for key in TrainConfig.keyPaths {
            guard let documented = rows[key] else { XCTFail("Configs/README.md has no row for \(key)"); continue }
            XCTAssertEqual(documented, "`\(try defaults.resolvedValue(key) ?? "?")`", "the default documented for \(key)")
        }
        for key in rows.keys where !TrainConfig.keyPaths.contains(key) {
            XCTFail("Configs/README.md documents \(key), which the config does not accept")
        }
    }
}
