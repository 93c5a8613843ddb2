// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Bulkhead",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "bulkhead-helper", targets: ["Helper"]),
        .executable(name: "bulkhead-agent", targets: ["Agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C shims: system libraries and the SCM_RIGHTS helpers Swift cannot import.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp"),
        .systemLibrary(name: "CCap", pkgConfig: "libcap"),
        .systemLibrary(name: "CVectorscan", pkgConfig: "libhs"),
        .systemLibrary(name: "CSSH", pkgConfig: "libssh"),
        .target(name: "CFDPass"),
        .target(name: "CProcess"),
        // splice(2) and epoll for the router's in-kernel relay.
        .target(name: "CSplice"),
        // The git revision `make` embeds (Sources/CBuildInfo/git_revision.h); "unknown" otherwise.
        .target(name: "CBuildInfo"),

        // Wire protocol and fd passing, shared by helper and agent.
        .target(name: "IPC", dependencies: [
            "CFDPass",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // The one config file, its defaults and overrides.
        .target(name: "Config", dependencies: [
            "IPC",
            .product(name: "Yams", package: "Yams"),
        ]),
        // Logging set-up (stdout text/JSON + syslog) and the version, used by both processes.
        .target(name: "LogSetup", dependencies: [
            "CBuildInfo",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // seccomp allow-lists (default kill-process, TSYNC), built the same way for every process.
        .target(name: "SeccompFilter", dependencies: ["CSeccomp", "CProcess"]),
        // Secret detection: vectorscan over a compiled rule set, chunk by chunk.
        .target(name: "SecretScan", dependencies: ["CVectorscan"]),
        // Docker's multiplexed log/attach framing and HTTP chunked decoding, incremental.
        .target(name: "DockerStream"),
        .executableTarget(name: "Helper", dependencies: [
            "IPC", "Config", "LogSetup", "SeccompFilter", "CSeccomp", "CCap", "CProcess",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .executableTarget(name: "Agent", dependencies: [
            "IPC", "Config", "LogSetup", "CProcess", "CSplice", "SeccompFilter", "SecretScan", "DockerStream", "CSSH",
            .product(name: "Yams", package: "Yams"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // libFuzzer harness for the IPC decoders (`make fuzz`); a plain build replays inputs.
        .executableTarget(name: "IPCFuzz", dependencies: ["IPC"]),
        .testTarget(name: "IPCTests", dependencies: ["IPC", "Config", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "BoundaryTests", dependencies: ["IPC", "Config", "Helper"]),
        .testTarget(name: "SecretScanTests", dependencies: ["SecretScan", "DockerStream"]),
        .testTarget(name: "DockerStreamTests", dependencies: ["DockerStream"]),
        .testTarget(name: "AgentTests", dependencies: [
            "Agent", "Config", "SecretScan", "LogSetup", .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
