import Foundation
import Yams

/// Every key a config may hold, and the config written out with all of them (`train --print-config`).
extension TrainConfig {
    /// Section name → its keys, in the order the YAML lists them.
    static let sections: [(name: String, keys: [String])] = [
        ("model", Model.CodingKeys.allCases.map(\.stringValue)),
        ("generator", Generator.CodingKeys.allCases.map(\.stringValue)),
        ("data", DataSection.CodingKeys.allCases.map(\.stringValue)),
        ("augment", Augment.CodingKeys.allCases.map(\.stringValue)),
        ("train", Optimisation.CodingKeys.allCases.map(\.stringValue)),
        ("loss", Loss.CodingKeys.allCases.map(\.stringValue)),
        ("output", Output.CodingKeys.allCases.map(\.stringValue)),
        ("distributed", DistributedSection.CodingKeys.allCases.map(\.stringValue)),
        ("inference", InferenceConfig.CodingKeys.allCases.map(\.stringValue)),
    ]

    /// "section.key" for every key the decoder accepts.
    public static var keyPaths: [String] { sections.flatMap { s in s.keys.map { s.name + "." + $0 } } }

    /// The config as YAML with every key, unset optional ones as `null` (which reads back as unset).
    public func resolvedYAML() throws -> String {
        func mapping(_ text: String) throws -> Node.Mapping {
            guard case .mapping(let m)? = try Yams.compose(yaml: text) else {
                throw ConfigError(path: "<config>", problem: "the encoded config is not a YAML mapping")
            }
            return m
        }
        let yamlTree = try mapping(try yaml())
        // JSONEncoder writes a Float as its shortest text (0.0003, where YAMLEncoder writes the
        // float widened to a double): numbers and booleans come from there, strings and lists
        // (with YAML's quoting) from the YAML encoding.
        let jsonTree = try mapping(String(decoding: try JSONEncoder().encode(self), as: UTF8.self))
        let pairs = Self.sections.map { section -> (Node, Node) in
            let values = section.keys.map { k -> (Node, Node) in
                if let s = jsonTree[section.name]?.mapping?[k]?.scalar, s.style == .plain { return (Node(k), Node(s.string)) }
                return (Node(k), yamlTree[section.name]?.mapping?[k] ?? Node("null"))
            }
            return (Node(section.name), Node.mapping(.init(values)))
        }
        return try Yams.serialize(node: .mapping(.init(pairs)))
    }

    /// One key's value as `resolvedYAML` writes it (a flow sequence for lists), for the docs' check.
    public func resolvedValue(_ keyPath: String) throws -> String? {
        let parts = keyPath.split(separator: ".").map(String.init)
        guard parts.count == 2, case .mapping(let top)? = try Yams.compose(yaml: try resolvedYAML()),
              let node = top[parts[0]]?.mapping?[parts[1]] else { return nil }
        if let seq = node.sequence { return "[" + seq.compactMap(\.string).joined(separator: ", ") + "]" }
        return node.scalar?.string
    }
}
