// swift-tools-version:6.0
import PackageDescription

// Swift 6 language mode. The library keeps no process-wide mutable state: the convolution
// engine, its caches and the tuning knobs live in an `ExecutionContext` the caller builds and
// the models hold. Models and contexts are not Sendable (each rank's training thread owns its
// own); the few types shared across threads say why they are safe where they are declared.
let package = Package(
    name: "autosam-dist",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "autosam-dist", targets: ["autosam-dist"]),
        .library(name: "Network", targets: ["Network"]),
        .library(name: "Distributed", targets: ["Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // Headers only: libdnnl is opened with dlopen at run time (see Sources/CDNNL/module.modulemap).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .target(name: "CImageCodecs", dependencies: ["CJPEG", "CTIFF"]),
        .target(name: "MPIShim", dependencies: ["CMPI"]),
        // AVX2+FMA kernels picked at run time (function-level target attributes, no compiler flags).
        .target(name: "CKernels"),
        .target(name: "Network", dependencies: ["COpenBLAS", "CDNNL", "CKernels"]),
        .target(name: "Datasets", dependencies: ["CPNG", "CJPEG", "CTIFF", "CImageCodecs"]),
        .target(name: "Distributed", dependencies: ["MPIShim", "Network", "Datasets", .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "autosam-dist",
            dependencies: [
                "Distributed", "Network", "Datasets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .testTarget(name: "NetworkTests", dependencies: ["Network"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Network", "Datasets"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"]),
    ],
    swiftLanguageModes: [.v6]
)
