import ArgumentParser
import ClassyAuth
import ClassyCore
import ClassyServer
import ClassyStore
import Foundation
import Logging
import ServiceLifecycle

@main
struct ClassyServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classy-server",
        abstract: "The Classy Book authentication, user-management and security-monitoring server.",
        discussion: """
            Configuration precedence: flags > environment (CLASSY_*) > config file (--config, JSON) > defaults.
            See the README's configuration table for every key.
            """,
        subcommands: [Serve.self, Migrate.self, CreateAdmin.self, RotateKeys.self],
        defaultSubcommand: Serve.self
    )
}

/// Flags shared by every subcommand; each maps to a configuration key.
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "Address to listen on (CLASSY_HOST).") var host: String?
    @Option(help: "Port to listen on, 0 for any (CLASSY_PORT).") var port: String?
    @Option(help: "sqlite:PATH, sqlite::memory:, postgres://… (CLASSY_DATABASE_URL).") var databaseUrl: String?
    @Option(help: "PostgreSQL connections per replica (CLASSY_DATABASE_POOL_SIZE).") var databasePoolSize: String?
    @Option(help: "Seconds to open one PostgreSQL connection (CLASSY_DATABASE_CONNECT_TIMEOUT_SECONDS).")
    var databaseConnectTimeoutSeconds: String?
    @Option(help: "Seconds one store operation may take, then UNAVAILABLE (CLASSY_DATABASE_QUERY_TIMEOUT_SECONDS).")
    var databaseQueryTimeoutSeconds: String?
    @Option(help: "Email of the primary admin created on first start (CLASSY_ADMIN_EMAIL).") var adminEmail: String?
    @Option(help: "Its password; generated and printed once if absent (CLASSY_ADMIN_PASSWORD).") var adminPassword:
        String?
    @Option(help: "open, admin or closed (CLASSY_REGISTRATION).") var registration: String?
    @Option(help: "Comma-separated CIDRs whose x-forwarded-for is believed (CLASSY_TRUSTED_PROXIES).")
    var trustedProxies: String?
    @Option(help: "Grace window of the previous refresh token, seconds (CLASSY_REFRESH_GRACE_SECONDS).")
    var refreshGraceSeconds: String?
    @Option(help: "on or off (CLASSY_RATE_LIMIT).") var rateLimit: String?
    @Option(help: "PEM certificate chain (CLASSY_TLS_CERT).") var tlsCert: String?
    @Option(help: "PEM private key (CLASSY_TLS_KEY).") var tlsKey: String?
    @Option(help: "PEM CA bundle for client certificates, enables mTLS (CLASSY_TLS_CLIENT_CA).") var tlsClientCa:
        String?
    @Option(help: "trace, debug, info, notice, warning, error, critical (CLASSY_LOG_LEVEL).") var logLevel: String?
    @Option(help: "text or json (CLASSY_LOG_FORMAT).") var logFormat: String?
    @Option(help: "Port of the Prometheus endpoint; off if absent (CLASSY_METRICS_PORT).") var metricsPort: String?
    @Option(help: "Largest accepted request message in bytes (CLASSY_MAX_REQUEST_BYTES).") var maxRequestBytes: String?
    @Option(help: "JSON config file (CLASSY_CONFIG).") var config: String?
    @Option(help: "CLASSY_IP_ALLOW_LIST (see the README).") var ipAllowList: String?
    @Option(help: "CLASSY_LOCKOUT_THRESHOLD (see the README).") var lockoutThreshold: String?
    @Option(help: "CLASSY_LOCKOUT_WINDOW_SECONDS (see the README).") var lockoutWindowSeconds: String?
    @Option(help: "CLASSY_LOCKOUT_SECONDS (see the README).") var lockoutSeconds: String?
    @Option(help: "CLASSY_LOCKOUT_MAX_SECONDS (see the README).") var lockoutMaxSeconds: String?
    @Option(help: "CLASSY_IP_BLOCK_THRESHOLD (see the README).") var ipBlockThreshold: String?
    @Option(help: "CLASSY_IP_BLOCK_WINDOW_SECONDS (see the README).") var ipBlockWindowSeconds: String?
    @Option(help: "CLASSY_IP_BLOCK_SECONDS (see the README).") var ipBlockSeconds: String?
    @Option(help: "CLASSY_IP_BLOCK_MAX_SECONDS (see the README).") var ipBlockMaxSeconds: String?
    @Option(help: "CLASSY_IP_BLOCK_PERMANENT_AFTER (see the README).") var ipBlockPermanentAfter: String?
    @Option(help: "CLASSY_LOGIN_ATTEMPT_RETENTION_DAYS (see the README).") var loginAttemptRetentionDays: String?
    @Option(help: "CLASSY_RATE_LIMIT_CREDENTIALS (see the README).") var rateLimitCredentials: String?
    @Option(help: "CLASSY_RATE_LIMIT_STANDARD (see the README).") var rateLimitStandard: String?
    @Option(help: "CLASSY_STREAM_HEARTBEAT_SECONDS (see the README).") var streamHeartbeatSeconds: String?
    @Option(help: "CLASSY_STREAM_BUFFER_SIZE (see the README).") var streamBufferSize: String?

    var flags: [String: String] {
        let pairs: [(String, String?)] = [
            ("host", host), ("port", port), ("database_url", databaseUrl), ("admin_email", adminEmail),
            ("database_pool_size", databasePoolSize),
            ("database_connect_timeout_seconds", databaseConnectTimeoutSeconds),
            ("database_query_timeout_seconds", databaseQueryTimeoutSeconds),
            ("admin_password", adminPassword), ("registration", registration), ("trusted_proxies", trustedProxies),
            ("refresh_grace_seconds", refreshGraceSeconds), ("rate_limit", rateLimit), ("tls_cert", tlsCert),
            ("tls_key", tlsKey), ("tls_client_ca", tlsClientCa), ("log_level", logLevel), ("log_format", logFormat),
            ("metrics_port", metricsPort), ("max_request_bytes", maxRequestBytes), ("config", config),
            ("ip_allow_list", ipAllowList),
            ("lockout_threshold", lockoutThreshold),
            ("lockout_window_seconds", lockoutWindowSeconds),
            ("lockout_seconds", lockoutSeconds),
            ("lockout_max_seconds", lockoutMaxSeconds),
            ("ip_block_threshold", ipBlockThreshold),
            ("ip_block_window_seconds", ipBlockWindowSeconds),
            ("ip_block_seconds", ipBlockSeconds),
            ("ip_block_max_seconds", ipBlockMaxSeconds),
            ("ip_block_permanent_after", ipBlockPermanentAfter),
            ("login_attempt_retention_days", loginAttemptRetentionDays),
            ("rate_limit_credentials", rateLimitCredentials),
            ("rate_limit_standard", rateLimitStandard),
            ("stream_heartbeat_seconds", streamHeartbeatSeconds),
            ("stream_buffer_size", streamBufferSize),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    /// Loads the configuration, or exits 1 with one line on stderr.
    func load() async throws -> ServerConfiguration {
        do {
            let configuration = try await ConfigurationLoader(flags: flags).load()
            configuration.bootstrapLogging()
            return configuration
        } catch {
            throw Fatal(error.description)
        }
    }
}

/// A fatal error printed as `classy-server: error: LINE`; exit status 1.
struct Fatal: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning configuration and start-up errors into one line on stderr and exit 1.
    func reportingFatalErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as Fatal {
            Self.printLine("classy-server: error: \(error.description)")
            throw ExitCode.failure
        } catch let error as ConfigurationError {
            Self.printLine("classy-server: error: \(error.description)")
            throw ExitCode.failure
        } catch let error as ServerStartError {
            Self.printLine("classy-server: error: \(error.description)")
            throw ExitCode.failure
        } catch let error as StoreError {
            Self.printLine("classy-server: error: store: \(error.message)")
            throw ExitCode.failure
        }
    }

    static func printLine(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Migrate the store and serve gRPC (default).")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await reportingFatalErrors {
            let configuration = try await options.load()
            let logger = Logger(label: "classy.server")
            let runtime = try await ClassyServerRuntime(configuration: configuration, logger: logger)
            if case .createdWithGeneratedPassword(let email, let password) = runtime.seedOutcome {
                print("Created the primary admin \(email) with the generated password: \(password)")
                print("It is shown only this once; change it after signing in.")
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: runtime)],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
            )
            Task {
                if let address = try? await runtime.listeningAddress {
                    let shown =
                        address.ipv4.map { "\($0.host):\($0.port)" } ?? address.ipv6.map { "[\($0.host)]:\($0.port)" }
                        ?? "\(address)"
                    print("classy-server listening on \(shown)")
                    fflush(nil)
                }
            }
            try await group.run()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending store migrations and exit.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await reportingFatalErrors {
            let configuration = try await options.load()
            let store = try await StoreFactory.open(
                configuration.database, pool: configuration.databasePool, logger: Logger(label: "classy.migrate"))
            try await store.migrate()
            try await store.close()
            print("migrations applied to \(configuration.database)")
        }
    }
}

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-admin",
        abstract: "Create a super admin account (the primary admin is created at first start)."
    )

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Email of the new super admin.") var email: String
    @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
    @Option(help: "Role: super_admin (default) or admin.") var role: String = "super_admin"

    func run() async throws {
        try await reportingFatalErrors {
            let configuration = try await options.load()
            guard let role = Role(claim: role), role.isAdmin else {
                throw Fatal("--role must be admin or super_admin")
            }
            var check = FieldValidator()
            let email = check.email("email", email)
            if let violation = check.violations.first { throw Fatal("--email \(violation.description)") }
            var password = PrimaryAdminSeeder.generatePasswordForCLI()
            var generated = true
            if passwordStdin {
                guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                    throw Fatal("--password-stdin: no password on standard input")
                }
                password = line
                generated = false
            }
            if let problem = PasswordPolicy().validate(password) { throw Fatal("password \(problem)") }
            let store = try await StoreFactory.open(
                configuration.database, pool: configuration.databasePool, logger: Logger(label: "classy.create-admin"))
            defer { Task { try? await store.close() } }
            try await store.migrate()
            let hasher = try await Argon2idPasswordHasher()
            do {
                let user = try await store.createUser(
                    NewUser(
                        email: email, passwordHash: try await hasher.hash(password), firstName: "", lastName: "",
                        role: role, createTime: Date()
                    ),
                    effects: .none
                )
                print("created \(role.claim) \(user.email) (id \(user.id))")
                if generated { print("generated password (shown once): \(password)") }
            } catch let error as StoreError where error.code == .emailTaken {
                throw Fatal("\(email) is already registered")
            }
        }
    }
}

struct RotateKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-keys",
        abstract:
            "Create a new token signing key and retire the current ones (old public keys stay published until their tokens expire)."
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        try await reportingFatalErrors {
            let configuration = try await options.load()
            let logger = Logger(label: "classy.rotate-keys")
            let store = try await StoreFactory.open(
                configuration.database, pool: configuration.databasePool, logger: logger)
            try await store.migrate()
            let kid = try await SigningKeyManager(
                store: store, clock: SystemWallClock(),
                accessTokenLifetime: TokenService.Configuration().accessTokenLifetime
            ).rotate(logger: logger)
            try await store.close()
            print("new signing key \(kid); running servers pick it up within a minute")
        }
    }
}
