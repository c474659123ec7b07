// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "dsdeploy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dsdeploy", targets: ["dsdeploy"]),
        .executable(name: "dsdeploy-engine-sim", targets: ["dsdeploy-engine-sim"]),
        .executable(name: "dsdeploy-supervisor", targets: ["dsdeploy-supervisor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .target(name: "DeployCore", swiftSettings: strictSettings),
        .target(name: "DeployTemplate", swiftSettings: strictSettings),
        .target(
            name: "Engines",
            dependencies: ["DeployCore", "DeployTemplate", "CEmbedded"],
            exclude: ["Resources"],  // the catalogs: compiled in through CEmbedded
            swiftSettings: strictSettings),
        .target(
            name: "DeploySpec",
            dependencies: ["DeployCore", "Engines", "DeployTemplate", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings),
        .target(
            name: "DeployKit",
            dependencies: ["DeployCore", "DeploySpec", "Engines", "DeployTemplate"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "dsdeploy",
            dependencies: [
                "DeployCore", "DeployKit", "DeploySpec", "DeployTargets", "DeployFlows", "Engines", "Bench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings),
        // Workflows over any registered target that need the benchmark client (apply --gate).
        .target(
            name: "DeployFlows",
            dependencies: ["DeployCore", "DeployKit", "DeploySpec", "DeployTargets", "Engines", "Bench"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "dsdeploy-fuzz-loader",
            dependencies: ["DeploySpec"],
            path: "Fuzz/LoaderFuzz",
            swiftSettings: strictSettings),
        // The flag catalogs and the stock backends, compiled into the binaries (.incbin from the package
        // root; the list: scripts/gen-embedded.py), so that a copied binary needs no files beside it.
        .target(name: "CEmbedded", exclude: ["embedded_files.h"], cSettings: [.headerSearchPath("../..")]),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("dl")]),  // libcurl: dlopen on first use (dsd_curl.c)
        // Test-only helpers shared by the test targets (polling, golden files, processes, ports).
        .target(name: "TestSupport", dependencies: ["DeployCore", "DeploySpec"], path: "Tests/TestSupport", swiftSettings: strictSettings),
        .target(name: "CurlHTTP", dependencies: ["CCurl"], swiftSettings: strictSettings),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: [
                "CurlHTTP", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "EngineSim",
            dependencies: [
                "Engines", "CSimIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        // epoll and timerfd for the simulator's replay mode (not imported by Swift's Glibc module).
        .target(name: "CSimIO"),
        .executableTarget(name: "dsdeploy-engine-sim", dependencies: ["EngineSim", "Engines"], swiftSettings: strictSettings),
        .testTarget(
            name: "EngineSimTests",
            dependencies: ["EngineSim", "CurlHTTP", "Engines", "dsdeploy-engine-sim", "TestSupport"],
            swiftSettings: strictSettings),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // OpenSSL's libcrypto for HMAC-SHA256 (keyed digests of secret values); libcurl links it already.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "DeployTargets",
            dependencies: ["DeployKit", "DeploySpec", "Engines", "DeployCore", "DeployTemplate", "CurlHTTP", "CSQLite", "CCrypto",
                           "POSIXSpawn"],
            swiftSettings: strictSettings),
        // Glibc only (no Foundation): posix_spawn set-up and /proc reading for DeployTargets and the supervisor.
        .target(name: "POSIXSpawn", swiftSettings: strictSettings),
        .testTarget(name: "POSIXSpawnTests", dependencies: ["POSIXSpawn"], swiftSettings: strictSettings),
        .executableTarget(name: "dsdeploy-supervisor", dependencies: ["POSIXSpawn"], swiftSettings: strictSettings),
        .testTarget(
            name: "DeployTargetsTests",
            dependencies: ["DeployTargets", "DeployKit", "DeploySpec", "Engines", "DeployCore", "CurlHTTP", "dsdeploy-supervisor", "TestSupport"],
            exclude: ["GPUStackFixtures", "Fixtures", "KubernetesFixtures", "KubernetesGolden", "KubernetesSchemas"],  // read by path at test time
            swiftSettings: strictSettings),
        .target(name: "Bench", dependencies: ["CurlHTTP", "DeployCore"], swiftSettings: strictSettings),
        .testTarget(name: "BenchTests", dependencies: ["Bench", "EngineSim", "Engines", "CurlHTTP", "DeployCore", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BenchCompareTests", dependencies: ["Bench"], swiftSettings: strictSettings),
        .testTarget(name: "DeployCoreTests", dependencies: ["DeployCore"], swiftSettings: strictSettings),
        .testTarget(name: "DeployTemplateTests", dependencies: ["DeployTemplate"], swiftSettings: strictSettings),
        .testTarget(name: "EnginesTests", dependencies: ["Engines", "DeployCore"], swiftSettings: strictSettings),
        .testTarget(name: "DeploySpecTests", dependencies: ["DeploySpec", "DeployTargets", "Engines", "TestSupport", .product(name: "Yams", package: "Yams")],
                    swiftSettings: strictSettings),
        .testTarget(name: "CLITests", dependencies: ["dsdeploy", "CurlHTTP", "TestSupport", "POSIXSpawn"], swiftSettings: strictSettings),
        .testTarget(name: "DeployKitTests", dependencies: ["DeployKit", "DeploySpec", "DeployTargets", "Engines", "TestSupport"],
                    exclude: ["Golden"],  // golden files, read by path
                    swiftSettings: strictSettings),
    ]
)
