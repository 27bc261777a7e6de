/// One image and its ground truth, as found on disk (nothing decoded yet).
public struct DatasetSample: Sendable, Hashable, Codable {
    public var imagePath: String
    /// A raster mask or an Aperio XML annotation.
    public var maskPath: String
    /// The image's base name ("cju0qkwl35piu0993l0dewei2", "testA_3", "case1/frame_0001").
    public var name: String
    public var maskRule: MaskRule

    public init(imagePath: String, maskPath: String, name: String, maskRule: MaskRule) {
        self.imagePath = imagePath
        self.maskPath = maskPath
        self.name = name
        self.maskRule = maskRule
    }
}

/// A decoded sample: RGB image and its binary mask at the same (original) resolution.
public struct LoadedSample: Sendable {
    public var sample: DatasetSample
    public var image: Image
    public var mask: Mask
}

/// A file that was left out (with `skipBad`) or that stops loading (without it), and why.
public struct DatasetProblem: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public init(_ e: ImageError) { self.init(path: e.path, problem: e.problem) }
    public var description: String { "\(path): \(problem)" }
}

/// Raised when a dataset cannot be used as it is; lists every bad file, each named.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public var problems: [DatasetProblem]
    public init(_ problems: [DatasetProblem]) { self.problems = problems }
    public var description: String {
        let head = problems.count == 1 ? "dataset error" : "\(problems.count) dataset errors"
        let shown = problems.prefix(20).map { "  \($0)" }.joined(separator: "\n")
        let more = problems.count > 20 ? "\n  … and \(problems.count - 20) more" : ""
        return "\(head) (pass --skip-bad to leave these files out with a warning):\n\(shown)\(more)"
    }
}
