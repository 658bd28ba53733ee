import ClassyCore
import Foundation
import Logging

/// Everything `classy-server` can be configured with, with the defaults of DESIGN.md.
///
/// Every key can be given as a flag (`--database-url`), an environment variable
/// (`CLASSY_DATABASE_URL`) or a config-file key (`database_url`); see ``ConfigurationLoader``.
public struct ServerConfiguration: Sendable {
    /// Where the store lives.
    public enum Database: Sendable, Hashable, CustomStringConvertible {
        /// An SQLite file (created with its folder if missing).
        case sqlite(path: String)
        /// A private in-memory SQLite database (lost at exit).
        case sqliteInMemory
        /// A PostgreSQL server.
        case postgres(url: String)
        /// A MongoDB server (trait `MongoDB`).
        case mongodb(url: String)

        public var description: String {
            switch self {
            case .sqlite(let path): "sqlite:\(path)"
            case .sqliteInMemory: "sqlite::memory:"
            case .postgres: "postgres://…"
            case .mongodb: "mongodb://…"
            }
        }
    }

    /// Pool size and time limits of a networked store (PostgreSQL), per replica.
    public struct DatabasePool: Sendable, Hashable {
        /// The most connections one replica opens.
        public var size = 10
        /// How long opening one connection may take.
        public var connectTimeout: Duration = .seconds(5)
        /// How long one store operation may take (connection lease included) before the RPC answers
        /// UNAVAILABLE / STORE_UNAVAILABLE; also PostgreSQL's `statement_timeout`.
        public var queryTimeout: Duration = .seconds(10)

        public init() {}
    }

    /// Who may call Register.
    public enum Registration: String, Sendable, Hashable {
        /// Anyone may register (default).
        case open
        /// Register answers REGISTRATION_CLOSED; admins create users.
        case closed
    }

    /// Log line format.
    public enum LogFormat: String, Sendable, Hashable {
        /// Human-readable lines.
        case text
        /// One JSON object per line.
        case json
    }

    /// TLS files; mTLS when `clientCAPath` is set.
    public struct TLS: Sendable, Hashable {
        /// PEM certificate chain.
        public var certificatePath: String
        /// PEM private key.
        public var privateKeyPath: String
        /// PEM CA bundle that client certificates must chain to (mTLS).
        public var clientCAPath: String?

        public init(certificatePath: String, privateKeyPath: String, clientCAPath: String? = nil) {
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
            self.clientCAPath = clientCAPath
        }
    }

    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on (0: any free port).
    public var port = 50051
    /// The store.
    public var database = Database.sqlite(path: "./classy-data/classy.sqlite")
    /// PostgreSQL connection pool and time limits (ignored by SQLite).
    public var databasePool = DatabasePool()
    /// Email of the primary super admin created on first start.
    public var adminEmail = "admin@classy.local"
    /// Its password; generated and printed once when nil.
    public var adminPassword: String?
    /// Registration mode.
    public var registration = Registration.open
    /// Proxies whose `x-forwarded-for` is believed.
    public var trustedProxies: [IPNetwork] = []
    /// How long the previous refresh token of a session keeps working.
    public var refreshGraceSeconds = 10
    /// Whether rate limits apply.
    public var rateLimitEnabled = true
    /// TLS, or plaintext when nil.
    public var tls: TLS?
    /// Log level.
    public var logLevel = Logger.Level.info
    /// Log format.
    public var logFormat = LogFormat.text
    /// Port of the Prometheus text endpoint; off when nil.
    public var metricsPort: Int?
    /// Largest accepted request message, in bytes.
    public var maxRequestBytes = 64 * 1024
    /// Concurrent HTTP/2 streams per connection.
    public var maxConcurrentStreams = 256
    /// JWT `iss` and `aud`.
    public var tokenIssuer = "classy"
    /// Brute-force thresholds, windows, escalation and the IP allow-list (DESIGN.md "Security policy").
    public var bruteForce = BruteForcePolicy()
    /// Token buckets per client IP and RPC family (applied when ``rateLimitEnabled``).
    public var rateLimits = RateLimiter.Limits()
    /// How long login attempts are kept.
    public var loginAttemptRetention: TimeInterval = 30 * 24 * 3600
    /// How often old login attempts are deleted.
    public var retentionInterval: Duration = .seconds(3600)
    /// How often StreamSecurityEvents sends a heartbeat.
    public var streamHeartbeatInterval: Duration = .seconds(15)
    /// How many events a security-event subscriber may fall behind before it is ended.
    public var streamBufferSize = 1024
    /// The shortest time, in milliseconds, between two fan-out rounds of the security event stream (0: one round
    /// per commit); events committed in between reach each subscriber in one write.
    public var streamCoalescingMilliseconds = 15

    public init() {}
}

/// A configuration value that cannot be used; `classy-server` prints it as one line and exits 1.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The one-line explanation.
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
