/// A file of named tensors in PyTorch's state-dict layout: a `.pth` (`TorchCheckpoint`) or a
/// `.safetensors` file (`SafetensorsFile`). Loading by name (`load(into:)`) works on either.
public protocol StateDictSource: AnyObject {
    var path: String { get }
    /// Tensor names in file order.
    var keys: [String] { get }
    func shape(_ key: String) -> [Int]?
    func dtype(_ key: String) -> TorchDType?
    /// The tensor as contiguous Float32 (other element types converted).
    func tensor(_ key: String) throws -> Tensor
    /// An integer (or bool) tensor's values, flattened in row-major order.
    func int64s(_ key: String) throws -> [Int64]
    /// String metadata stored beside the tensors: a `.safetensors` file's `__metadata__`; in a
    /// `.pth`, the `_metadata` entry named `StateDictMetadata.pthEntry` (empty when absent).
    var metadata: [String: String] { get }
}

public enum StateDictMetadata {
    /// The key under the state dict's `_metadata` (torch's per-module metadata, which
    /// `load_state_dict` reads by module prefix and so never mistakes for a tensor) that
    /// holds our string metadata in a `.pth`. No module of g or h has this prefix.
    public static let pthEntry = "autosam"
}
