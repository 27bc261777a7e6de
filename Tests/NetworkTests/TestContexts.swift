import Foundation
import TestSupport
import XCTest
@testable import Network

/// The execution contexts the tests build their models with: one per engine, shared across
/// tests so the oneDNN backend's plan cache is reused (each test still picks its engine
/// explicitly; nothing is a process-wide switch). `nonisolated(unsafe)`: XCTest runs one test
/// at a time on one thread, and contexts and models are not Sendable.
enum TestContexts {
    nonisolated(unsafe) static let reference = ExecutionContext.reference()

    /// nil where libdnnl cannot be loaded. Winograd as AUTOSAM_CONV_WINOGRAD says (default on).
    nonisolated(unsafe) static let oneDNN: ExecutionContext? = ConvEngine.isOneDNNAvailable
        ? ExecutionContext(convolution: try! OneDNNConvBackend(winograd: ExecutionContext.environmentAllowsWinograd()))
        : nil

    /// The engine the command line would pick: AUTOSAM_CONV_ENGINE, else oneDNN where libdnnl
    /// loads, else the reference (the engine these tests ran on before contexts existed).
    nonisolated(unsafe) static let standard: ExecutionContext = {
        let request = ProcessInfo.processInfo.environment["AUTOSAM_CONV_ENGINE"]
        return try! ConvEngine.resolve(request) == .onednn ? oneDNN! : reference
    }()

    /// Every engine this machine has: the reference, then oneDNN where libdnnl loads.
    static var available: [ExecutionContext] { [reference] + (oneDNN.map { [$0] } ?? []) }

    nonisolated(unsafe) private static var sams: [String: SAM] = [:]

    /// LiteMedSAM on `context`'s engine, loaded once per engine; skips when the weights are absent.
    static func liteMedSAM(_ context: ExecutionContext = standard) throws -> SAM {
        let key = context.convolution.engineName
        if let s = sams[key] { return s }
        let s = try SAM.load(.liteMedSAM, checkpoint: try TestPaths.requireLiteMedSAM(), context: context)
        sams[key] = s
        return s
    }
}
