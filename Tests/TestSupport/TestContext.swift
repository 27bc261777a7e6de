import Network

/// The execution context the tests build their models with: the engine the command line would
/// pick (AUTOSAM_CONV_ENGINE, else oneDNN where libdnnl loads, else the reference), shared so
/// the oneDNN backend's plan cache is reused across tests. `nonisolated(unsafe)`: XCTest runs
/// one test at a time on one thread, and a context is not Sendable.
public enum TestContext {
    nonisolated(unsafe) public static let standard: ExecutionContext = try! ExecutionContext.make()
}
