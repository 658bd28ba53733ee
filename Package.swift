// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let products: [Product] = [
    .library(name: "ClassyServer", targets: ["ClassyServer"]),
    .executable(name: "classy-server", targets: ["classy-server"]),
    .executable(name: "classy-bench", targets: ["classy-bench"]),
    .library(name: "ClassySDK", targets: ["ClassySDK"]),
    .executable(name: "classy", targets: ["classy"]),
    .executable(name: "classy-monitor", targets: ["classy-monitor"]),
]

let dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
]

let grpcCore: Target.Dependency = .product(name: "GRPCCore", package: "grpc-swift-2")
let grpcProtobuf: Target.Dependency = .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf")
let grpcTransport: Target.Dependency = .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")
let swiftProtobuf: Target.Dependency = .product(name: "SwiftProtobuf", package: "swift-protobuf")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let targets: [Target] = [
    // Generated messages and client/server stubs (scripts/generate-protos.sh).
    .target(
        name: "ClassyAPI",
        dependencies: [grpcCore, grpcProtobuf, swiftProtobuf],
        swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    // Domain types, errors, validation, policies, clock: pure logic.
    .target(
        name: "ClassyCore",
        dependencies: [grpcCore, grpcProtobuf, "ClassyAPI"],
        swiftSettings: swiftSettings
    ),
    // Store protocols and records, the event hub.
    .target(
        name: "ClassyStore",
        dependencies: ["ClassyCore", "ClassyAPI", swiftProtobuf, logging],
        swiftSettings: swiftSettings
    ),
    // The conformance suite every store backend passes (used by test targets only).
    .target(
        name: "ClassyStoreConformance",
        dependencies: ["ClassyStore", "ClassyCore"],
        swiftSettings: swiftSettings
    ),
    // The embedded default backend.
    .target(
        name: "ClassyStoreSQLite",
        dependencies: ["ClassyStore", "ClassyCore", .product(name: "GRDB", package: "GRDB.swift"), logging],
        swiftSettings: swiftSettings
    ),
    // The multi-replica backend: PostgreSQL through postgres-nio, LISTEN/NOTIFY for commit wake-ups.
    .target(
        name: "ClassyStorePostgres",
        dependencies: [
            "ClassyStore", "ClassyCore", .product(name: "PostgresNIO", package: "postgres-nio"), logging,
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    // libargon2 (Debian libargon2-dev).
    .systemLibrary(
        name: "CArgon2",
        pkgConfig: "libargon2",
        providers: [.apt(["libargon2-dev"])]
    ),
    // Password hashing, tokens, AuthService.
    .target(
        name: "ClassyAuth",
        dependencies: [
            "ClassyCore", "ClassyStore", "ClassyAPI", "CArgon2", grpcCore, logging, swiftProtobuf,
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: swiftSettings
    ),
    // UsersService, RBAC rules on targets, notifications.
    .target(
        name: "ClassyUsers",
        dependencies: ["ClassyCore", "ClassyStore", "ClassyAPI", grpcCore, logging],
        swiftSettings: swiftSettings
    ),
    // MonitoringService, security metrics, the security-event stream.
    .target(
        name: "ClassyMonitoring",
        dependencies: ["ClassyCore", "ClassyStore", "ClassyAPI", grpcCore, logging, swiftProtobuf],
        swiftSettings: swiftSettings
    ),
    // Composition root: configuration, interceptors, GRPCServer, ServiceGroup.
    .target(
        name: "ClassyServer",
        dependencies: [
            "ClassyCore", "ClassyStore", "ClassyStoreSQLite", "ClassyStorePostgres", "ClassyAuth", "ClassyUsers",
            "ClassyMonitoring", "ClassyAPI", grpcCore, grpcProtobuf, grpcTransport, logging,
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "classy-server",
        dependencies: [
            "ClassyServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: swiftSettings
    ),
    // Load generators and benchmark scenarios (run in release: `make bench`).
    .executableTarget(
        name: "classy-bench",
        dependencies: [
            "ClassyAPI", "ClassyAuth", "ClassyCore", "ClassyServer", "ClassyStore", grpcCore, grpcProtobuf,
            grpcTransport, logging, swiftProtobuf, .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
        ],
        path: "Benchmarks/Sources/classy-bench",
        swiftSettings: swiftSettings
    ),
    // The monitoring client's logic: connection and credentials, the resume loop, the state file, the JSON schema,
    // the line format and the dashboard renderer (client side only: ClassyAPI and the transport).
    .target(
        name: "ClassyMonitorKit",
        dependencies: ["ClassyAPI", grpcCore, grpcProtobuf, grpcTransport, swiftProtobuf],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "classy-monitor",
        dependencies: [
            "ClassyMonitorKit", "ClassyAPI", grpcCore, grpcTransport,
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: swiftSettings
    ),
    // Test kit: a real server on a free loopback port, a temp database, a fake clock.
    .target(
        name: "ClassyTesting",
        dependencies: [
            "ClassyServer", "ClassyAPI", "ClassyCore", "ClassyAuth", "ClassyStore", grpcCore, grpcTransport, logging,
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    // The client SDK for apps: models, token refresh, offline cache, outbox sync (never imports server modules).
    .target(
        name: "ClassySDK",
        dependencies: [
            "ClassyAPI", grpcCore, grpcProtobuf, grpcTransport, swiftProtobuf, logging,
            .product(name: "GRDB", package: "GRDB.swift"),
        ],
        path: "ClientSDK/Sources/ClassySDK",
        swiftSettings: swiftSettings
    ),
    // The `classy` command-line client, built on the SDK.
    .executableTarget(
        name: "classy",
        dependencies: ["ClassySDK", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "ClientSDK/Sources/classy",
        swiftSettings: swiftSettings
    ),
    // A process the SDK tests kill with SIGKILL in the middle of an outbox replay.
    .executableTarget(
        name: "classy-sdk-crash-helper",
        dependencies: ["ClassySDK"],
        path: "ClientSDK/Tests/classy-sdk-crash-helper",
        swiftSettings: swiftSettings
    ),

    .testTarget(
        name: "ClassySDKTests",
        dependencies: [
            "ClassySDK", "ClassyTesting", "ClassyAPI", "ClassyCore", "ClassyStore", "ClassyStoreSQLite", "ClassyServer",
            grpcCore, grpcTransport, logging,
        ],
        path: "ClientSDK/Tests/ClassySDKTests",
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyCoreTests",
        dependencies: ["ClassyCore", "ClassyAPI", grpcCore, grpcProtobuf],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyStoreSQLiteTests",
        dependencies: ["ClassyStoreSQLite", "ClassyStoreConformance", "ClassyStore", "ClassyCore"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyStorePostgresTests",
        dependencies: [
            "ClassyStorePostgres", "ClassyStoreConformance", "ClassyStore", "ClassyCore", "ClassyTesting", "ClassyAPI",
            grpcCore, grpcTransport, logging, .product(name: "PostgresNIO", package: "postgres-nio"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyAuthTests",
        dependencies: [
            "ClassyAuth", "ClassyCore", "ClassyStore", "ClassyStoreSQLite", "ClassyServer", "ClassyTesting", grpcCore,
            grpcProtobuf, grpcTransport,
            .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyUsersTests",
        dependencies: [
            "ClassyUsers", "ClassyTesting", "ClassyAPI", "ClassyCore", "ClassyStore", grpcCore, grpcProtobuf,
            grpcTransport,
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyMonitoringTests",
        dependencies: [
            "ClassyMonitoring", "ClassyTesting", "ClassyAPI", "ClassyCore", "ClassyStore", "ClassyAuth", "ClassyServer",
            "ClassyStoreSQLite", grpcCore, grpcProtobuf, grpcTransport, swiftProtobuf,
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyMonitorKitTests",
        dependencies: [
            "ClassyMonitorKit", "ClassyTesting", "ClassyAPI", grpcCore, grpcProtobuf, grpcTransport, swiftProtobuf,
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "ClassyServerTests",
        dependencies: [
            "ClassyServer", "ClassyTesting", "ClassyAPI", "ClassyCore", "ClassyAuth", "ClassyStore",
            "ClassyStoreSQLite",
            grpcCore, grpcProtobuf, grpcTransport, logging,
            .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
        ],
        swiftSettings: swiftSettings
    ),
]

let package = Package(
    name: "classy-book",
    platforms: [.macOS(.v15)],
    products: products,
    dependencies: dependencies,
    targets: targets
)
