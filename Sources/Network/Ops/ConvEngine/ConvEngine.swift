#if canImport(Glibc)
import Glibc
#endif

/// The convolution engines by name, as a command line or a config asks for them:
///   - `.reference`: im2col + sgemm (`ReferenceConvBackend`); what the finite-difference tests check.
///   - `.onednn`: oneDNN 2.x primitives through libdnnl, opened at run time (`OneDNNConvBackend`).
/// "auto" (the default) takes oneDNN when the library loads and the reference otherwise.
/// Only a name: the engine itself is a `ConvBackend`, made by `ExecutionContext.make`.
public enum ConvEngine: String, CaseIterable, Sendable {
    case reference, onednn

    /// The engine for a request ("reference", "onednn", "auto"; nil or "" mean auto). Throws
    /// `OneDNNUnavailable` (naming libdnnl-dev) when oneDNN was asked for explicitly and cannot
    /// be loaded, `ConvEngineError.unknown` for any other name.
    public static func resolve(_ request: String?) throws -> ConvEngine {
        switch request?.lowercased() {
        case "reference", "im2col":
            return .reference
        case "onednn", "dnnl":
            _ = try DNNLLibrary.shared()
            return .onednn
        case nil, "", "auto":
            return isOneDNNAvailable ? .onednn : .reference
        case let other?:
            throw ConvEngineError.unknown(other)
        }
    }

    /// Whether libdnnl loads on this machine (tried once per process).
    public static let isOneDNNAvailable: Bool = (try? DNNLLibrary.shared()) != nil

    /// Loads oneDNN, throwing the libdnnl-dev message when it cannot.
    public static func requireOneDNN() throws { _ = try DNNLLibrary.shared() }

    /// oneDNN's version and CPU runtime, when it loads.
    public static let oneDNNVersion: String? = (try? DNNLLibrary.shared())?.version
}

public enum ConvEngineError: Error, CustomStringConvertible {
    case unknown(String)
    public var description: String {
        switch self {
        case .unknown(let s): return "unknown convolution engine \"\(s)\" (want reference, onednn or auto)"
        }
    }
}
