internal import ClassyAPI
import Foundation
internal import GRPCCore
internal import GRPCNIOTransportHTTP2
import Synchronization

/// A connection to a Classy Book server for an app: sign-in with automatic token refresh, an offline
/// cache, an outbox that syncs mutations made offline, and reconnecting streams.
///
/// Create one with ``withClassyClient(_:_:)``:
/// ```swift
/// try await withClassyClient(.init(host: "127.0.0.1", port: 50051)) { client in
///     try await client.auth.signIn(email: "ada@example.com", password: "a fine long password")
///     let me = try await client.users.me()
///     print(me.value.firstName, me.isStale ? "(offline)" : "")
/// }
/// ```
public final class ClassyClient: Sendable {
    /// How to reach the server and where to keep state.
    public struct Configuration: Sendable {
        /// Transport security.
        public enum TransportSecurity: Sendable, Hashable {
            /// No encryption (loopback and tests).
            case plaintext
            /// TLS verified against the system's trust roots.
            case tls
            /// TLS verified against the PEM certificates in this file.
            case tlsTrusting(caCertificatePath: String)
        }

        public var host: String
        public var port: Int
        public var transportSecurity: TransportSecurity
        /// Where tokens live; a ``FileTokenStore`` (0600) in ``dataDirectory`` by default.
        public var tokenStore: any TokenStore
        /// Holds the per-account cache files (`<user id>.sqlite`); nil keeps no offline cache.
        public var cacheDirectory: URL?
        /// Sent with sign-in and refresh; shown in the account's session list.
        public var clientInfo: ClientInfo
        /// Refresh the access token when it expires within this span.
        public var refreshLeeway: Duration
        /// Deadline of each unary call.
        public var callTimeout: Duration
        /// How outbox conflicts (stale etags) are resolved.
        public var conflictPolicy: ConflictPolicy
        /// Reconnection of streams and of the outbox replay when the server is unreachable.
        public var backoff: Backoff
        /// Replay the outbox (and pull user changes when ``keepDirectoryCurrent``) in the background.
        public var autoSync: Bool
        /// How often the background sync looks for work when nothing wakes it.
        public var syncInterval: Duration
        /// Pull ListUserChanges into the cache on every background sync (admin apps).
        public var keepDirectoryCurrent: Bool
        /// The clock used to decide when to refresh (tests move it).
        public var now: @Sendable () -> Date
        /// Test seams (see ``ClientHooks``).
        @_spi(Testing) public var hooks = ClientHooks()

        /// The default folder of a server's state: `$XDG_DATA_HOME/classy/<host>_<port>` (or `~/.local/share`).
        public static func defaultDataDirectory(host: String, port: Int) -> URL {
            let environment = ProcessInfo.processInfo.environment
            let base =
                environment["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share")
            return base.appendingPathComponent("classy").appendingPathComponent("\(host)_\(port)")
        }

        public init(
            host: String = "127.0.0.1",
            port: Int = 50051,
            transportSecurity: TransportSecurity = .plaintext,
            dataDirectory: URL? = nil,
            tokenStore: (any TokenStore)? = nil,
            clientInfo: ClientInfo = ClientInfo()
        ) {
            self.host = host
            self.port = port
            self.transportSecurity = transportSecurity
            let directory = dataDirectory ?? Self.defaultDataDirectory(host: host, port: port)
            self.tokenStore = tokenStore ?? FileTokenStore(path: directory.appendingPathComponent("tokens.json").path)
            self.cacheDirectory = directory.appendingPathComponent("cache")
            self.clientInfo = clientInfo
            self.refreshLeeway = .seconds(60)
            self.callTimeout = .seconds(15)
            self.conflictPolicy = .serverWins
            self.backoff = Backoff()
            self.autoSync = true
            self.syncInterval = .seconds(5)
            self.keepDirectoryCurrent = false
            self.now = { Date() }
        }
    }

    /// Exponential backoff with jitter.
    public struct Backoff: Sendable, Hashable {
        public var initial: Duration
        public var maximum: Duration
        public var multiplier: Double
        /// Each delay is drawn uniformly within ± this fraction.
        public var jitter: Double

        public init(
            initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30), multiplier: Double = 2,
            jitter: Double = 0.2
        ) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
            self.jitter = jitter
        }

        /// The delay before attempt `attempt` (0-based).
        public func delay(attempt: Int) -> Duration {
            let base = initial.seconds * pow(multiplier, Double(min(attempt, 30)))
            let capped = min(base, maximum.seconds)
            let jittered = capped * Double.random(in: (1 - jitter)...(1 + jitter))
            return .milliseconds(Int64(max(jittered, 0) * 1000))
        }
    }

    /// The configuration it runs with.
    public let configuration: Configuration
    let grpc: GRPCClient<HTTP2ClientTransport.Posix>
    let credentials: CredentialsManager
    let states: Broadcaster<AuthState>
    let sync: SyncEngine
    private let caches = Mutex<(userID: String, cache: OfflineCache)?>(nil)
    private let syncWanted = Mutex(false)
    private let closed = Mutex(false)

    /// True once the client's scope ended: streams stop reconnecting.
    var isClosed: Bool { closed.withLock { $0 } }

    func close() {
        closed.withLock { $0 = true }
        grpc.beginGracefulShutdown()
    }

    /// Sign-in, sign-out, sessions and passwords.
    public var auth: AuthAPI { AuthAPI(client: self) }
    /// Profile, user directory and admin user management.
    public var users: UsersAPI { UsersAPI(client: self) }
    /// The signed-in user's notifications.
    public var notifications: NotificationsAPI { NotificationsAPI(client: self) }
    /// Security monitoring (admins).
    public var monitoring: MonitoringAPI { MonitoringAPI(client: self) }
    /// Mutations waiting to be sent.
    public var outbox: Outbox { Outbox(client: self) }

    init(configuration: Configuration) throws {
        self.configuration = configuration
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        switch configuration.transportSecurity {
        case .plaintext: security = .plaintext
        case .tls: security = .tls
        case .tlsTrusting(let path):
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ClassyClientError.invalidField("ca_certificate", "cannot read \(path)")
            }
            security = .tls { $0.trustRoots = .certificates([.file(path: path, format: .pem)]) }
        }
        let backoff = configuration.backoff
        grpc = GRPCClient(
            transport: try .http2NIOPosix(
                target: .dns(host: configuration.host, port: configuration.port),
                transportSecurity: security,
                config: .defaults {
                    $0.backoff = .init(
                        initial: backoff.initial, max: min(backoff.maximum, .seconds(5)), multiplier: 1.6,
                        jitter: backoff.jitter
                    )
                }
            )
        )
        let states = Broadcaster<AuthState>()
        self.states = states
        let refresher = Refresher()
        credentials = CredentialsManager(
            store: configuration.tokenStore,
            refresher: { token in try await refresher.refresh(token) },
            leeway: configuration.refreshLeeway, now: configuration.now, hooks: configuration.hooks, states: states
        )
        sync = SyncEngine(policy: configuration.conflictPolicy, hooks: configuration.hooks)
        refresher.client.withLock { $0 = WeakClient(self) }
    }

    /// Signed in or out, with the reason; starts with the current state.
    public var authState: AsyncStream<AuthState> { states.stream() }

    /// The current state.
    public var currentAuthState: AuthState { states.latest ?? .signedOut(.notSignedIn) }

    /// The signed-in account, if any.
    public var account: Account? {
        get async { await credentials.account }
    }

    // MARK: calls

    var auth_: Classy_Auth_V1_AuthService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
    var users_: Classy_Users_V1_UsersService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
    var monitoring_: Classy_Monitoring_V1_MonitoringService.Client<HTTP2ClientTransport.Posix> {
        .init(wrapping: grpc)
    }

    /// Call options of unary calls: the deadline, and fail fast when the server is unreachable.
    var unaryOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = configuration.callTimeout
        options.waitForReady = false
        return options
    }

    /// Runs an unauthenticated call, mapping errors to ``ClassyClientError``.
    func anonymous<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        do { return try await body() } catch { throw ClassyClientError.wrap(error) }
    }

    /// Runs a call with the access token (refreshed first if it is about to expire). A TOKEN_EXPIRED or
    /// TOKEN_INVALID answer refreshes once (shared with every concurrent call) and retries once;
    /// SESSION_REVOKED signs the client out.
    func authorized<Result: Sendable>(
        idempotencyKey: String? = nil,
        _ body: (_ metadata: Metadata) async throws -> Result
    ) async throws -> Result {
        var token = try await credentials.accessToken()
        // The session the call speaks for: a revocation of it must not sign out a later session.
        let sessionID = await credentials.account?.sessionID
        var retried = false
        while true {
            var metadata: Metadata = ["authorization": "Bearer \(token)"]
            if let idempotencyKey { metadata.addString(idempotencyKey, forKey: "idempotency-key") }
            do {
                return try await body(metadata)
            } catch {
                let wrapped = ClassyClientError.wrap(error)
                guard let failure = wrapped as? ClassyClientError else { throw wrapped }
                let refusedToken =
                    failure.reason == ClassyClientError.Reason.tokenExpired
                    || failure.reason == ClassyClientError.Reason.tokenInvalid
                if refusedToken && !retried {
                    retried = true
                    token = try await credentials.refresh(replacing: token).accessToken
                    continue
                }
                switch failure.reason {
                case ClassyClientError.Reason.sessionRevoked:
                    await credentials.sessionEnded(.sessionRevoked, sessionID: sessionID)
                case ClassyClientError.Reason.refreshTokenReused:
                    await credentials.sessionEnded(.refreshTokenReused, sessionID: sessionID)
                default: break
                }
                throw failure
            }
        }
    }

    // MARK: cache

    /// The signed-in account's cache (opened on first use); nil when caching is off.
    func cache() async throws -> OfflineCache? {
        guard let directory = configuration.cacheDirectory else { return nil }
        guard let account = await credentials.account else { throw ClassyClientError.signedOut() }
        return try cache(for: account.userID, in: directory)
    }

    private func cache(for userID: String, in directory: URL) throws -> OfflineCache {
        // Opened under the lock: concurrent first calls share one connection.
        try caches.withLock { open in
            if let open, open.userID == userID { return open.cache }
            let safe = userID.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
            let cache = try OfflineCache(path: directory.appendingPathComponent("\(safe).sqlite").path)
            open = (userID, cache)
            return cache
        }
    }

    /// The cache, which must exist for the outbox.
    func requireCache() async throws -> OfflineCache {
        guard let cache = try await cache() else {
            throw ClassyClientError(
                status: .failedPrecondition, reason: "NO_CACHE",
                message: "the outbox needs a cache directory (Configuration.cacheDirectory)"
            )
        }
        return cache
    }

    /// Reads through the cache: fresh from the server when it answers, the cached copy (stale) when it
    /// cannot be reached, the server's error otherwise.
    func cached<Value: Codable & Sendable>(
        key: String,
        fetch: () async throws -> Value
    ) async throws -> Cached<Value> {
        let now = configuration.now()
        do {
            let value = try await fetch()
            try? await cache()?.put(value, at: key, fetched: now)
            return Cached(value: value, fetchedTime: now, isStale: false)
        } catch let error as ClassyClientError where error.isOffline {
            if let cache = try await cache(), let stored = try cache.get(Value.self, at: key) {
                return Cached(value: stored.value, fetchedTime: stored.fetched, isStale: true)
            }
            throw error
        }
    }

    /// Whether the server answers its health check now (SERVING), without waiting for a connection.
    public func isReachable() async -> Bool {
        let health = Grpc_Health_V1_Health.Client(wrapping: grpc)
        let response = try? await health.check(.init(), options: unaryOptions)
        return response?.status == .serving
    }

    /// Asks the background sync to run soon.
    func wakeSync() { syncWanted.withLock { $0 = true } }

    /// Replays the outbox now, then pulls user changes into the directory cache when asked.
    ///
    /// - Returns: how the replay went.
    @discardableResult
    public func synchronize(directory: Bool = false) async throws -> SyncReport {
        let report = try await sync.replay(client: self)
        if directory, !report.offline { _ = try await users.refreshDirectory() }
        return report
    }

    /// The background loop: replays the outbox when woken or every ``Configuration/syncInterval``,
    /// backing off with jitter while the server is unreachable.
    func runBackgroundSync() async {
        var failures = 0
        var sinceLastRun = Duration.zero
        let step = Duration.milliseconds(100)
        while !Task.isCancelled {
            let woken = syncWanted.withLock { wanted in
                defer { wanted = false }
                return wanted
            }
            if woken || sinceLastRun >= configuration.syncInterval {
                sinceLastRun = .zero
                var offline = false
                if await credentials.account != nil {
                    do {
                        let report = try await synchronize(directory: configuration.keepDirectoryCurrent)
                        offline = report.offline
                    } catch let error as ClassyClientError {
                        offline = error.isTransient
                    } catch {
                        offline = false
                    }
                }
                if offline {
                    try? await Task.sleep(for: configuration.backoff.delay(attempt: failures))
                    failures += 1
                    wakeSync()
                    continue
                }
                failures = 0
            }
            try? await Task.sleep(for: step)
            sinceLastRun += step
        }
    }
}

/// Runs `body` with a client connected to the configured server, then closes the connection (and
/// stops the background sync and the client's streams).
///
/// `body` runs in the caller's isolation (the main actor of an app, for instance).
@discardableResult
public func withClassyClient<Result>(
    _ configuration: ClassyClient.Configuration,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (ClassyClient) async throws -> Result
) async throws -> Result {
    let client = try ClassyClient(configuration: configuration)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.grpc.runConnections() }
        if configuration.autoSync {
            group.addTask { await client.runBackgroundSync() }
        }
        do {
            let value = try await body(client)
            client.close()
            group.cancelAll()
            return value
        } catch {
            client.close()
            group.cancelAll()
            throw error
        }
    }
}

/// Calls Refresh for the credentials manager without a reference cycle.
private final class Refresher: Sendable {
    let client = Mutex<WeakClient?>(nil)

    func refresh(_ token: String) async throws -> StoredCredentials {
        guard let client = client.withLock({ $0?.client }) else { throw CancellationError() }
        return try await client.auth.performRefresh(refreshToken: token)
    }
}

private struct WeakClient: Sendable {
    weak var client: ClassyClient?
    init(_ client: ClassyClient) { self.client = client }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
