// Placeholder so the DistributedTests target declared in Package.swift has a source file
// (SwiftPM refuses to build without Tests/DistributedTests). Replace with real tests.
import XCTest
