import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyServer
import ClassyStore
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// A real Classy Book server on a free loopback port with a temporary SQLite database, a manual
/// clock and cheap Argon2id parameters, plus generated clients connected to it over TCP.
public struct TestServer: Sendable {
    /// The running server.
    public let runtime: ClassyServerRuntime
    /// The server's clock.
    public let clock: ManualClock
    /// The bound port on 127.0.0.1.
    public let port: Int
    /// The gRPC client connected to it.
    public let client: GRPCClient<HTTP2ClientTransport.Posix>

    /// The primary admin's email and password.
    public static let adminEmail = "root@classy.test"
    public static let adminPassword = "primary-admin-password"

    /// AuthService client.
    public var auth: Classy_Auth_V1_AuthService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// UsersService client.
    public var users: Classy_Users_V1_UsersService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// MonitoringService client.
    public var monitoring: Classy_Monitoring_V1_MonitoringService.Client<HTTP2ClientTransport.Posix> {
        .init(wrapping: client)
    }
    /// Health client.
    public var health: Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }

    /// The store behind the server.
    public var store: any ClassyStoreProtocol { runtime.store }

    /// The password of accounts made by ``signIn(role:email:ipAddress:)``.
    public static let userPassword = "correct horse battery"

    /// Creates an account with `role` straight in the store, opens a session for it, and returns
    /// the account with a valid access token for that session.
    public func signIn(
        role: Role,
        email: String? = nil,
        ipAddress: String = "127.0.0.1"
    ) async throws -> (user: UserRecord, accessToken: String, sessionID: String) {
        let now = clock.now()
        let user = try await store.createUser(
            NewUser(
                email: email ?? "\(role.claim)-\(UUID().uuidString.prefix(8).lowercased())@classy.test",
                passwordHash: try await runtime.passwordHasher.hash(Self.userPassword),
                firstName: "Test",
                lastName: role.claim,
                role: role,
                createTime: now
            ),
            effects: .none
        )
        let session = try await store.createSession(
            SessionRecord(
                userID: user.id, ipAddress: ipAddress, createTime: now,
                expireTime: now.addingTimeInterval(7 * 24 * 3600),
                currentRefreshHash: OpaqueToken.hash(OpaqueToken.generate())
            ),
            effects: .none
        )
        let token = try runtime.tokens.issueAccessToken(userID: user.id, sessionID: session.id, role: role).token
        return (user, token, session.id)
    }

    /// Creates a service account in the store and returns a valid access token for it.
    public func serviceToken() async throws -> (account: ServiceAccountRecord, accessToken: String) {
        let account = ServiceAccountRecord(
            id: UUID().uuidString.lowercased(),
            clientID: "svc-\(UUID().uuidString.prefix(8).lowercased())",
            name: "test service",
            description: "",
            secretHash: OpaqueToken.hash(OpaqueToken.generate()),
            createTime: clock.now()
        )
        _ = try await store.createServiceAccount(account, effects: .none)
        let token = try runtime.tokens.issueAccessToken(userID: account.id, sessionID: nil, role: .service).token
        return (account, token)
    }
}

extension Metadata {
    /// `authorization: Bearer <token>`.
    public static func bearer(_ token: String) -> Metadata {
        ["authorization": "Bearer \(token)"]
    }
}

/// Starts a ``TestServer``, runs `body` with it, then shuts the server down gracefully.
///
/// - Parameters:
///   - configure: changes to the test configuration (port 0, temp SQLite file, rate limits off).
///   - databasePath: an SQLite file to use (to restart a server on the same data); a temp file if nil.
///   - clock: the server's clock.
///   - logger: the server's logger (default: critical only, or debug with `CLASSY_TEST_LOG` set).
public func withTestServer<Result: Sendable>(
    configure: (inout ServerConfiguration) -> Void = { _ in },
    databasePath: String? = nil,
    clock: ManualClock = ManualClock(),
    clientSecurity: HTTP2ClientTransport.Posix.TransportSecurity = .plaintext,
    clientHost: String = "127.0.0.1",
    passwordHasher: (any PasswordHasher)? = nil,
    logger: Logger? = nil,
    _ body: (TestServer) async throws -> Result
) async throws -> Result {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { if databasePath == nil { try? FileManager.default.removeItem(at: directory) } }
    var configuration = ServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.database = .sqlite(path: databasePath ?? directory.appendingPathComponent("classy.sqlite").path)
    configuration.adminEmail = TestServer.adminEmail
    configuration.adminPassword = TestServer.adminPassword
    configuration.rateLimitEnabled = false
    configure(&configuration)

    let logger =
        logger
        ?? {
            var logger = Logger(label: "classy.test")
            logger.logLevel = ProcessInfo.processInfo.environment["CLASSY_TEST_LOG"] == nil ? .critical : .debug
            return logger
        }()
    let hasher: any PasswordHasher
    if let passwordHasher {
        hasher = passwordHasher
    } else {
        hasher = try await Argon2idPasswordHasher(parameters: TestPasswordParameters.fast)
    }
    let runtime = try await ClassyServerRuntime(
        configuration: configuration, clock: clock, passwordHasher: hasher, logger: logger
    )
    let group = ServiceGroup(services: [runtime], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let address = try await runtime.listeningAddress
            guard let port = address.ipv4?.port ?? address.ipv6?.port else {
                throw RPCError(code: .internalError, message: "server bound to \(address)")
            }
            let result = try await withGRPCClient(
                transport: try .http2NIOPosix(
                    target: .dns(host: clientHost, port: port),
                    transportSecurity: clientSecurity
                )
            ) { client in
                let server = TestServer(runtime: runtime, clock: clock, port: port, client: client)
                // Ready means SERVING over the real connection (this also starts the client's connections).
                _ = try await server.health.check(.init())
                return try await body(server)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// Argon2id parameters cheap enough for tests (the real parameters are measured in Benchmarks/).
public enum TestPasswordParameters {
    /// m = 1 MiB, t = 1, p = 1.
    public static let fast = Argon2Parameters(memoryKiB: 1024, iterations: 1, parallelism: 1)
}
