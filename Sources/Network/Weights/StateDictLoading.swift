/// Something whose tensors are named like a PyTorch state dict and can be filled from one.
public protocol StateDictLoadable {
    /// Every tensor the model expects, by state-dict name (without any checkpoint prefix).
    var parameterShapes: [(name: String, shape: [Int])] { get }
    /// Stores one tensor; its shape has already been checked against `parameterShapes`.
    mutating func assign(name: String, tensor: Tensor) throws
}

/// A parameter store loads by its parameter names.
extension ParameterStore: StateDictLoadable {
    public var parameterShapes: [(name: String, shape: [Int])] {
        parameters.map { ($0.name, $0.shape) }
    }

    public func assign(name: String, tensor: Tensor) throws {
        guard let p = self[name] else { throw NetworkError.invalidArgument("no parameter named \(name)") }
        try set(p, tensor)
    }
}

/// The checkpoint and the model disagree; every offending name is listed.
public struct StateDictMismatchError: Error, CustomStringConvertible, Equatable {
    public struct WrongShape: Equatable, Sendable {
        public let name: String
        public let expected: [Int]
        public let found: [Int]
    }

    public let path: String
    /// In the model, not in the checkpoint.
    public let missing: [String]
    /// Full checkpoint keys (prefix included) with no model tensor.
    public let unexpected: [String]
    public let wrongShape: [WrongShape]

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty {
            parts.append("\(missing.count) missing from the checkpoint: \(missing.joined(separator: ", "))")
        }
        if !unexpected.isEmpty {
            parts.append("\(unexpected.count) unexpected (not in the model): \(unexpected.joined(separator: ", "))")
        }
        if !wrongShape.isEmpty {
            let list = wrongShape.map { "\($0.name) (model \($0.expected), checkpoint \($0.found))" }
            parts.append("\(wrongShape.count) with the wrong shape: \(list.joined(separator: ", "))")
        }
        return "\(path): state dict does not match the model; " + parts.joined(separator: "; ")
    }
}

extension StateDictSource {
    /// Fills `model` from the checkpoint. Only keys starting with `prefix` are considered,
    /// with the prefix stripped (e.g. "image_encoder."). Every such key must name a model
    /// tensor of the same shape and every model tensor must be present, except keys for
    /// which `ignoring` is true (e.g. BatchNorm's `num_batches_tracked`); otherwise nothing
    /// is assigned and a `StateDictMismatchError` lists every offending name. Tensors are
    /// materialised one at a time. Returns the number of tensors assigned.
    @discardableResult
    public func load<M: StateDictLoadable>(into model: inout M, prefix: String = "",
                                           ignoring: (String) -> Bool = { _ in false }) throws -> Int {
        let wanted = model.parameterShapes
        var expected: [String: [Int]] = [:]
        for (name, shape) in wanted { expected[name] = shape }

        var present: Set<String> = []
        var unexpected: [String] = []
        var wrongShape: [StateDictMismatchError.WrongShape] = []
        var plan: [(file: String, name: String)] = []
        for key in keys where key.hasPrefix(prefix) {
            let name = String(key.dropFirst(prefix.count))
            guard let shape = expected[name] else {
                if !ignoring(name) { unexpected.append(key) }
                continue
            }
            present.insert(name)
            let found = self.shape(key)!
            if found != shape {
                wrongShape.append(.init(name: name, expected: shape, found: found))
            } else {
                plan.append((key, name))
            }
        }
        let missing = wanted.map(\.name).filter { !present.contains($0) && !ignoring($0) }
        guard missing.isEmpty, unexpected.isEmpty, wrongShape.isEmpty else {
            throw StateDictMismatchError(path: path, missing: missing, unexpected: unexpected, wrongShape: wrongShape)
        }
        for (file, name) in plan {
            try model.assign(name: name, tensor: try tensor(file))
        }
        return plan.count
    }

    /// Reference-type models (layers, parameter stores) without `&`.
    @discardableResult
    public func load<M: StateDictLoadable & AnyObject>(into model: M, prefix: String = "",
                                                       ignoring: (String) -> Bool = { _ in false }) throws -> Int {
        var m = model
        return try load(into: &m, prefix: prefix, ignoring: ignoring)
    }
}
