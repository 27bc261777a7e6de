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
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Jobs", targets: ["Jobs"]),
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
        .target(name: "CImageCodecs", dependencies: ["CJPEG", "CTIFF", "CPNG"]),
        .target(name: "MPIShim", dependencies: ["CMPI"]),
        // AVX2+FMA kernels picked at run time (function-level target attributes, no compiler flags).
        .target(name: "CKernels"),
        // The model: tensors, ops, SAM, g, h; knows no ranks, datasets or files but weights.
        .target(name: "Network", dependencies: ["COpenBLAS", "CDNNL", "CKernels"]),
        // The data: decoding, dataset layouts, augmentation, preprocessing, metrics; knows no models.
        .target(name: "Datasets", dependencies: ["CPNG", "CJPEG", "CTIFF", "CImageCodecs"]),
        // What every rank uses alone to train: config, checkpoints, embedding cache, sample
        // pipeline, evaluator, split; knows no ranks.
        .target(name: "Training", dependencies: ["Network", "Datasets", .product(name: "Yams", package: "Yams")]),
        // The single-process jobs: predict, eval, figures, train-h, bench.
        .target(name: "Jobs", dependencies: ["Training", "Network", "Datasets"]),
        // The only module that knows ranks: communicators and the data-parallel trainer.
        .target(name: "Distributed", dependencies: ["MPIShim", "Training", "Network", "Datasets"]),
        .executableTarget(
            name: "autosam-dist",
            dependencies: [
                "Distributed", "Jobs", "Training", "Network", "Datasets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Package root, weights, shared samples, and running the built binary; for every test target.
        .target(name: "TestSupport", dependencies: ["Network"], path: "Tests/TestSupport"),
        .testTarget(name: "NetworkTests", dependencies: ["Network", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Network", "Datasets"]),
        // Export/import of g and h as PyTorch state dicts; fixtures from Tools/reference/fixtures_interop.py.
        .testTarget(name: "InteropTests", dependencies: ["Training", "Network", "Datasets", "TestSupport"], resources: [.copy("Fixtures")]),
        // Distributed only for ThreadPolicy in BenchTrainTests (the thread setting of the bench job's measurement).
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Training", "Network", "Datasets", "Distributed", "TestSupport"]),
        // Tests of the Trainer, and those that launch the binary under mpirun.
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Training", "Network", "Datasets", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
