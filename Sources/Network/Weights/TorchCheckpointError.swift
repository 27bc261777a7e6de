/// A `.pth` checkpoint could not be opened, parsed or read. `description` is "<path>: <problem>".
public struct TorchCheckpointError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// A problem found by the format readers, which do not know the file's path;
/// `TorchCheckpoint` wraps it into a `TorchCheckpointError`.
struct CheckpointProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
