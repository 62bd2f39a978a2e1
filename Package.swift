// swift-tools-version:6.0
import PackageDescription

/// System libraries come from Debian's -dev packages (see Jobs/setup.sh); pkg-config finds them.
let systemLibraries: [Target] = [
    .systemLibrary(name: "CMongoC", path: "Sources/CMongoC", pkgConfig: "libmongoc-1.0",
                   providers: [.apt(["libmongoc-dev", "libbson-dev"])]),
    .systemLibrary(name: "CSndFile", path: "Sources/CSndFile", pkgConfig: "sndfile",
                   providers: [.apt(["libsndfile1-dev"])]),
    .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f",
                   providers: [.apt(["libfftw3-dev"])]),
    .systemLibrary(name: "CSoxr", path: "Sources/CSoxr", pkgConfig: "soxr",
                   providers: [.apt(["libsoxr-dev"])]),
]

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")

let jobNames = ["etl-extract", "etl-features", "etl-normalize", "etl-load", "etl-export", "etl-nightly"]

let package = Package(
    name: "MusicETL",
    platforms: [.macOS(.v14)],
    products: jobNames.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // SHA-256 for document content hashes and export checksums.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
    ],
    targets: systemLibraries + [
        .target(name: "Tabular"),
        // Tabular for its spill file (AnonymousSpillFile), which the MSSD derivation uses too.
        .target(name: "AudioFeatures", dependencies: ["Tabular", "CSndFile", "CSoxr", "CFFTW"]),
        .target(name: "DocumentStore", dependencies: ["CMongoC", crypto]),
        // The job runtime below every stage: configuration, work dir, locks, lease, ledger, logging, progress, signals.
        .target(name: "Pipeline", dependencies: ["Tabular", "DocumentStore", logging, argumentParser]),
        // Flattening documents into CSV/JSON Lines files: a library without the job runtime (the export stage drives it).
        .target(name: "Export", dependencies: ["Tabular", "DocumentStore", crypto]),
        // What the stages share about staged files: the success marker, file discovery and checks, the line
        // index that merges --only re-runs, shard file names, the feature vector.
        .target(name: "Staging", dependencies: ["Tabular", "DocumentStore", "Pipeline"]),
        // One module per stage, each with a typed entry point (`<Stage>.run(options, context:)`).
        // No stage imports another.
        .target(name: "ExtractStage", dependencies: ["Tabular", "DocumentStore", "Pipeline", "Staging", logging]),
        .target(name: "FeaturesStage", dependencies: ["Tabular", "AudioFeatures", "DocumentStore", "Pipeline", "Staging", logging]),
        .target(name: "NormalizeStage", dependencies: ["Tabular", "DocumentStore", "Pipeline", "Staging"]),
        .target(name: "LoadStage", dependencies: ["DocumentStore", "Pipeline", "Staging", logging]),
        .target(name: "ExportStage", dependencies: ["Export", "DocumentStore", "Pipeline", "Staging"]),
        // Each dataset in one type (files, schemas, derived training rows) that the commands hand to the stages.
        .target(name: "Datasets",
                dependencies: ["Tabular", "DocumentStore", "Pipeline", "Staging", "NormalizeStage", logging]),
        // The commands: flags → the stage's options → the stage's `run`; `etl-nightly` calls the stages in turn.
        .target(name: "ETLJobs",
                dependencies: ["Pipeline", "DocumentStore", "Datasets", "ExtractStage", "FeaturesStage", "NormalizeStage",
                               "LoadStage", "ExportStage", logging, argumentParser]),
    ] + jobNames.map { name in
        .executableTarget(name: name, dependencies: ["ETLJobs"], path: "Jobs/\(name)")
    } + [
        // Benchmarks print ratios against reference implementations measured in the same run.
        .executableTarget(name: "bench-features", dependencies: ["AudioFeatures"], path: "Benchmarks/bench-features"),
        .executableTarget(name: "bench-extract", dependencies: ["Tabular", "ExtractStage", "Datasets"], path: "Benchmarks/bench-extract"),
        .executableTarget(name: "bench-load", dependencies: ["DocumentStore", "Export", "TestSupport"], path: "Benchmarks/bench-load"),
        .executableTarget(name: "bench-mssd-derive", dependencies: ["Datasets", "Pipeline", "NormalizeStage"],
                          path: "Benchmarks/bench-mssd-derive"),
        // Shared by the test targets: fixture paths, the local MongoDB-compatible test server.
        .target(name: "TestSupport", dependencies: ["DocumentStore"], path: "Tests/Support"),
        .testTarget(name: "TabularTests", dependencies: ["Tabular", "TestSupport"]),
        .testTarget(name: "AudioFeaturesTests", dependencies: ["AudioFeatures", "TestSupport"]),
        .testTarget(name: "DocumentStoreTests", dependencies: ["DocumentStore", "TestSupport"]),
        .testTarget(name: "ExportTests", dependencies: ["Export", "DocumentStore", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "NormalizeStage", "Pipeline", "DocumentStore", "TestSupport"]),
        .testTarget(name: "JobsTests", dependencies: ["ETLJobs", "Pipeline", "Export", "TestSupport", "Datasets",
                                                     "Staging", "ExtractStage", "NormalizeStage", "LoadStage", "FeaturesStage", "ExportStage"]),
    ],
    swiftLanguageModes: [.v6]
)
