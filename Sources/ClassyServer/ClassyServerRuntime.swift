import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyMonitoring
import ClassyStore
import ClassyStorePostgres
import ClassyStoreSQLite
import ClassyUsers
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Prometheus
import ServiceLifecycle

/// A configured Classy Book server: store opened and migrated, primary admin seeded, signing keys
/// loaded, gRPC server built. Run it as a `Service` (``run()``) inside a `ServiceGroup`.
public final class ClassyServerRuntime: Service, Sendable {
    /// The configuration it runs with.
    public let configuration: ServerConfiguration
    /// The store.
    public let store: any ClassyStoreProtocol
    /// Signs and verifies access tokens.
    public let tokens: TokenService
    /// Hashes passwords.
    public let passwordHasher: any PasswordHasher
    /// The serving status reported by `grpc.health.v1.Health`.
    public let health: HealthStatus
    /// What seeding the primary admin did at start.
    public let seedOutcome: PrimaryAdminSeeder.Outcome
    /// The wall clock.
    public let clock: any WallClock
    /// Fans committed security events out to StreamSecurityEvents subscribers.
    public let eventHub: EventHub
    /// The Prometheus endpoint, when `metricsPort` is set.
    public let metricsEndpoint: MetricsEndpoint?
    /// The users service (its notification streams end at shutdown).
    private let users: UsersService
    /// The IP blocks in force, for the request path.
    let ipBlocks: IPBlockCache
    /// Deletes old login attempts.
    let retentionJob: LoginAttemptRetentionJob
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let logger: Logger

    /// Opens the store, migrates it, seeds the primary admin and loads the signing keys.
    ///
    /// - Parameters:
    ///   - configuration: the validated configuration.
    ///   - clock: the wall clock (tests pass a fake one).
    ///   - passwordHasher: the hasher; Argon2id at OWASP parameters when nil.
    ///   - logger: the root logger.
    public init(
        configuration: ServerConfiguration,
        clock: any WallClock = SystemWallClock(),
        passwordHasher: (any PasswordHasher)? = nil,
        logger: Logger = Logger(label: "classy.server")
    ) async throws {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.health = HealthStatus()
        let store = try await StoreFactory.open(
            configuration.database, pool: configuration.databasePool, logger: logger)
        self.store = store
        do {
            try await store.migrate()
            let hasher: any PasswordHasher
            if let passwordHasher { hasher = passwordHasher } else { hasher = try await Argon2idPasswordHasher() }
            self.passwordHasher = hasher
            self.seedOutcome = try await PrimaryAdminSeeder(store: store, hasher: hasher, clock: clock)
                .seed(email: configuration.adminEmail, password: configuration.adminPassword)
            let tokenConfiguration = TokenService.Configuration(
                issuer: configuration.tokenIssuer, audience: configuration.tokenIssuer
            )
            let keys = try await SigningKeyManager(
                store: store, clock: clock, accessTokenLifetime: tokenConfiguration.accessTokenLifetime
            ).loadOrCreate(logger: logger)
            self.tokens = try TokenService(keys: keys, configuration: tokenConfiguration, clock: clock)
        } catch {
            try? await store.close()
            throw error
        }
        let hub = EventHub(
            log: store, bufferSize: configuration.streamBufferSize,
            coalescing: .milliseconds(configuration.streamCoalescingMilliseconds), logger: logger
        )
        let ipBlocks = IPBlockCache(store: store, clock: clock, policy: configuration.bruteForce, logger: logger)
        do {
            try await hub.prime()
            try await ipBlocks.reload()
        } catch {
            try? await store.close()
            throw error
        }
        self.eventHub = hub
        self.ipBlocks = ipBlocks
        self.retentionJob = LoginAttemptRetentionJob(
            store: store, clock: clock, retention: configuration.loginAttemptRetention,
            interval: configuration.retentionInterval, logger: logger
        )
        self.transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port),
            transportSecurity: try Self.transportSecurity(configuration.tls),
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = configuration.maxRequestBytes
                config.http2.maxConcurrentStreams = configuration.maxConcurrentStreams
            }
        )
        var rpcMetrics: RPCMetrics?
        if let metricsPort = configuration.metricsPort {
            let registry = PrometheusCollectorRegistry()
            rpcMetrics = RPCMetrics(factory: PrometheusMetricsFactory(registry: registry))
            self.metricsEndpoint = MetricsEndpoint(
                host: configuration.host, port: metricsPort, registry: registry, logger: logger
            )
        } else {
            self.metricsEndpoint = nil
        }
        let interceptors = Self.interceptors(
            configuration: configuration, tokens: tokens, store: store, clock: clock, logger: logger,
            ipBlocks: ipBlocks, metrics: rpcMetrics
        )
        let users = UsersService(store: store, clock: clock, passwordHasher: self.passwordHasher, logger: logger)
        self.users = users
        self.server = GRPCServer(
            transport: transport,
            services: [
                HealthService(status: health),
                AuthService(
                    store: store, tokens: tokens, passwordHasher: self.passwordHasher, clock: clock,
                    configuration: AuthConfiguration(server: configuration), logger: logger
                ),
                users,
                MonitoringService(
                    store: store, clock: clock, logger: logger, hub: hub,
                    configuration: MonitoringConfiguration(server: configuration),
                    blocksChanged: { [logger] in
                        do { try await ipBlocks.reload() } catch {
                            logger.warning("could not reload IP blocks", metadata: ["error": "\(error)"])
                        }
                    }
                ),
            ],
            interceptorPipeline: interceptors
        )
    }

    /// The request path of DESIGN.md, in order: request id + logging, IP block check, rate limit (unless
    /// `rateLimitEnabled` is off), authentication, authorization, idempotency replay, error mapping (innermost,
    /// around the handler).
    ///
    /// `ipBlocks` is the server's block cache (loaded and followed by ``run()``); nil gives an empty one that
    /// nothing refreshes, for tests of the other interceptors.
    static func interceptors(
        configuration: ServerConfiguration,
        tokens: TokenService,
        store: any ClassyStoreProtocol,
        clock: any WallClock,
        logger: Logger,
        ipBlocks: IPBlockCache? = nil,
        metrics: RPCMetrics? = nil
    ) -> [ConditionalInterceptor<any ServerInterceptor>] {
        let refusals = LoginRefusalRecorder(
            loginGuard: LoginGuard(store: store, clock: clock, policy: configuration.bruteForce, logger: logger),
            logger: logger
        )
        let blocks =
            ipBlocks ?? IPBlockCache(store: store, clock: clock, policy: configuration.bruteForce, logger: logger)
        var pipeline: [ConditionalInterceptor<any ServerInterceptor>] = [
            .apply(
                RequestIDInterceptor(
                    resolver: ClientAddressResolver(trustedProxies: configuration.trustedProxies),
                    logger: logger,
                    metrics: metrics
                ),
                to: .all
            ),
            .apply(IPBlockInterceptor(blocks: blocks, refusals: refusals, clock: clock), to: .all),
        ]
        if configuration.rateLimitEnabled {
            let limiter = RateLimiter(limits: configuration.rateLimits, clock: clock)
            pipeline.append(.apply(RateLimitInterceptor(limiter: limiter, refusals: refusals), to: .all))
        }
        return pipeline + [
            .apply(
                AuthenticationInterceptor(
                    authenticator: AccessTokenAuthenticator(tokens: tokens, store: store, clock: clock)
                ),
                to: .all
            ),
            .apply(AuthorizationInterceptor(), to: .all),
            .apply(IdempotencyInterceptor(store: store, clock: clock), to: .all),
            .apply(ErrorMappingInterceptor(logger: logger), to: .all),
        ]
    }

    /// The address the server listens on, once bound.
    public var listeningAddress: GRPCNIOTransportCore.SocketAddress {
        get async throws { try await transport.listeningAddress }
    }

    /// Serves until graceful shutdown (SIGTERM/SIGINT through the ServiceGroup) or cancellation,
    /// then drains in-flight RPCs and closes the store.
    public func run() async throws {
        let health = self.health
        let server = self.server
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        try await server.serve()
                        return true
                    }
                    group.addTask {
                        // If binding fails, serve() throws the reason; this task just stands aside.
                        guard let address = try? await self.transport.listeningAddress else { return false }
                        health.setAll(.serving)
                        self.logger.notice("serving", metadata: ["address": "\(address)"])
                        try await self.reloadSigningKeysPeriodically()
                        return false
                    }
                    let hub = self.eventHub
                    let ipBlocks = self.ipBlocks
                    let retentionJob = self.retentionJob
                    group.addTask {
                        try await hub.run()
                        return false
                    }
                    group.addTask {
                        try await ipBlocks.run(hub: hub)
                        return false
                    }
                    group.addTask {
                        try await retentionJob.run()
                        return false
                    }
                    if let metricsEndpoint = self.metricsEndpoint {
                        group.addTask {
                            try await metricsEndpoint.run()
                            return false
                        }
                    }
                    // serve() returns after a graceful shutdown; the other tasks run until cancelled.
                    while let served = try await group.next() {
                        if served { break }
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                health.setAll(.notServing)
                health.finishWatchers()
                // Security-event streams end cleanly, so draining in-flight RPCs can finish.
                self.eventHub.finish()
                self.users.finishNotificationStreams()
                server.beginGracefulShutdown()
            }
        } catch {
            health.setAll(.notServing)
            try? await store.close()
            throw ServerStartError(error, configuration: configuration)
        }
        health.setAll(.notServing)
        try await store.close()
    }

    /// Creates a new signing key, retires the current ones, and starts signing with the new key
    /// at once in this process (other replicas pick it up within a minute); returns its id.
    @discardableResult
    public func rotateSigningKeys() async throws -> String {
        let manager = SigningKeyManager(
            store: store, clock: clock, accessTokenLifetime: tokens.configuration.accessTokenLifetime
        )
        let keyID = try await manager.rotate(logger: logger)
        try tokens.replaceKeys(try await manager.loadOrCreate(logger: logger))
        return keyID
    }

    /// Picks up keys rotated by `classy-server rotate-keys` or another replica, once a minute.
    private func reloadSigningKeysPeriodically() async throws {
        let manager = SigningKeyManager(
            store: store, clock: clock, accessTokenLifetime: tokens.configuration.accessTokenLifetime
        )
        while true {
            try await Task.sleep(for: .seconds(60))
            do {
                let keys = try await manager.loadOrCreate(logger: logger)
                if Set(keys.map(\.keyID)) != tokens.verificationKeyIDs() || tokens.signingKeyID() == nil {
                    try tokens.replaceKeys(keys)
                    logger.notice("reloaded signing keys", metadata: ["count": "\(keys.count)"])
                }
            } catch {
                logger.warning("could not reload signing keys", metadata: ["error": "\(error)"])
            }
        }
    }

    static func transportSecurity(
        _ tls: ServerConfiguration.TLS?
    ) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        let chain: [TLSConfig.CertificateSource] = [.file(path: tls.certificatePath, format: .pem)]
        let key: TLSConfig.PrivateKeySource = .file(path: tls.privateKeyPath, format: .pem)
        guard let clientCA = tls.clientCAPath else {
            return .tls(certificateChain: chain, privateKey: key)
        }
        return .mTLS(certificateChain: chain, privateKey: key) { config in
            config.trustRoots = .certificates([.file(path: clientCA, format: .pem)])
            config.clientCertificateVerification = .noHostnameVerification
        }
    }
}

/// The server could not start serving; its description is one line for operators.
public struct ServerStartError: Error, CustomStringConvertible {
    /// The one-line explanation.
    public let description: String

    init(_ error: any Error, configuration: ServerConfiguration) {
        let text = "\(error)"
        let address = "\(configuration.host):\(configuration.port)"
        if text.localizedCaseInsensitiveContains("address already in use") {
            description = "cannot listen on \(address): address already in use"
        } else if text.localizedCaseInsensitiveContains("ssl") || text.localizedCaseInsensitiveContains("pem")
            || text.localizedCaseInsensitiveContains("certificate")
        {
            description = "cannot start TLS on \(address): \(text.split(separator: "\n").first ?? "")"
        } else {
            description = "cannot serve on \(address): \(text.split(separator: "\n").first ?? "")"
        }
    }
}

/// Opens the store named by the configuration.
public enum StoreFactory {
    /// Opens (but does not migrate) the store; a PostgreSQL store's pool and commit listener are started and run
    /// until the store is closed.
    public static func open(
        _ database: ServerConfiguration.Database,
        pool: ServerConfiguration.DatabasePool = .init(),
        logger: Logger
    ) async throws -> any ClassyStoreProtocol {
        switch database {
        case .sqlite(let path):
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                return try SQLiteStore(path: path, logger: logger)
            } catch {
                throw ConfigurationError("database sqlite:\(path): cannot open (\(error))")
            }
        case .sqliteInMemory:
            return try SQLiteStore.inMemory(logger: logger)
        case .postgres(let url):
            var configuration: PostgresStoreConfiguration
            do {
                configuration = try PostgresStoreConfiguration(url: url)
            } catch {
                throw ConfigurationError("database \(database): \(error)")
            }
            configuration.poolSize = pool.size
            configuration.connectTimeout = pool.connectTimeout
            configuration.queryTimeout = pool.queryTimeout
            let store = PostgresStore(configuration: configuration, logger: logger)
            await store.start()
            return store
        case .mongodb:
            throw ConfigurationError("database mongodb://…: build with the MongoDB trait to use MongoDB")
        }
    }
}
