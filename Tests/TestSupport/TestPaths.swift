import Foundation
import XCTest

/// Where the tests find what lives outside their own folders: the package root, the
/// embedded LiteMedSAM weights (skip with the fetch hint when absent) and the shared real
/// samples in ../shared/data/samples beside the package (skip when absent: a user's clone).
public enum TestPaths {
    /// The package root (this file is Tests/TestSupport/TestPaths.swift).
    public static let packageRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// weights/lite_medsam.pth under the package root, present or not.
    public static var liteMedSAMWeights: String { packageRoot + "/weights/lite_medsam.pth" }

    /// The LiteMedSAM weights, or XCTSkip saying how to fetch them.
    public static func requireLiteMedSAM() throws -> String {
        let p = liteMedSAMWeights
        guard FileManager.default.fileExists(atPath: p) else {
            throw XCTSkip("weights/lite_medsam.pth not present; run Launch/fetch-weights.sh")
        }
        return p
    }

    /// torchvision's ImageNet MobileNetV2 weights, or XCTSkip saying how to fetch them.
    public static func requireMobileNetV2() throws -> String {
        let p = packageRoot + "/weights/mobilenet_v2-b0353104.pth"
        guard FileManager.default.fileExists(atPath: p) else {
            throw XCTSkip("weights/mobilenet_v2-b0353104.pth not present; run Launch/fetch-weights.sh")
        }
        return p
    }

    /// The shared real samples (../shared/data/samples from the package root), or XCTSkip.
    public static func sharedSamples() throws -> String {
        let p = URL(fileURLWithPath: packageRoot + "/../shared/data/samples").standardized.path
        guard FileManager.default.fileExists(atPath: p) else {
            throw XCTSkip("real samples not available (../shared/data/samples is absent)")
        }
        return p
    }
}
