import Network

/// The execution context the tests build their models with: the engine the command line would
/// pick (AUTOSAM_CONV_ENGINE, else oneDNN where libdnnl loads, else the reference), shared so
/// the oneDNN backend's plan cache is reused across tests.
enum TestContext {
    nonisolated(unsafe) static let standard: ExecutionContext = try! ExecutionContext.make()
}
