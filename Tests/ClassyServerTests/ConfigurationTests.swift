import ClassyCore
import ClassyServer
import Foundation
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    func load(
        flags: [String: String] = [:], env: [String: String] = [:]
    ) async throws(ConfigurationError)
        -> ServerConfiguration
    {
        try await ConfigurationLoader(flags: flags, environment: env).load()
    }

    func expectError(
        _ fragment: String,
        flags: [String: String] = [:],
        env: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            _ = try await load(flags: flags, env: env)
            Issue.record("expected a configuration error containing '\(fragment)'", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), "one line", sourceLocation: sourceLocation)
        }
    }

    @Test("defaults are DESIGN.md's")
    func defaults() async throws {
        let config = try await load()
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 50051)
        #expect(config.database == .sqlite(path: "./classy-data/classy.sqlite"))
        #expect(config.registration == .open)
        #expect(config.refreshGraceSeconds == 10)
        #expect(config.rateLimitEnabled)
        #expect(config.tls == nil)
        #expect(config.logFormat == .text)
        #expect(config.metricsPort == nil)
        #expect(config.maxRequestBytes == 65536)
    }

    @Test("flags > environment > config file > defaults")
    func precedence() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("classy-\(UUID()).json")
        try Data(#"{"host": "0.0.0.0", "port": 7000, "registration": "closed", "log_format": "json"}"#.utf8)
            .write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let config = try await load(
            flags: ["port": "9000"],
            env: ["CLASSY_CONFIG": file.path, "CLASSY_PORT": "8000", "CLASSY_HOST": "::1"]
        )
        #expect(config.port == 9000)
        #expect(config.host == "::1")
        #expect(config.registration == .closed)
        #expect(config.logFormat == .json)
    }

    @Test("every environment name of DESIGN.md is read")
    func environmentNames() async throws {
        let config = try await load(env: [
            "CLASSY_HOST": "0.0.0.0", "CLASSY_PORT": "1234", "CLASSY_DATABASE_URL": "sqlite::memory:",
            "CLASSY_ADMIN_EMAIL": " Boss@Example.com", "CLASSY_ADMIN_PASSWORD": "long enough password",
            "CLASSY_REGISTRATION": "admin", "CLASSY_TRUSTED_PROXIES": "10.0.0.0/8, ::1",
            "CLASSY_REFRESH_GRACE_SECONDS": "3", "CLASSY_RATE_LIMIT": "off", "CLASSY_LOG_LEVEL": "debug",
            "CLASSY_LOG_FORMAT": "json", "CLASSY_METRICS_PORT": "9090",
        ])
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 1234)
        #expect(config.database == .sqliteInMemory)
        #expect(config.adminEmail == "boss@example.com")
        #expect(config.adminPassword == "long enough password")
        #expect(config.registration == .closed)
        #expect(config.trustedProxies.map(\.description) == ["10.0.0.0/8", "::1"])
        #expect(config.refreshGraceSeconds == 3)
        #expect(!config.rateLimitEnabled)
        #expect(config.logLevel == .debug)
        #expect(config.logFormat == .json)
        #expect(config.metricsPort == 9090)
    }

    @Test("bad values are one clear line naming where they came from")
    func badValues() async {
        await expectError("unknown database scheme 'mysql'", env: ["CLASSY_DATABASE_URL": "mysql://x"])
        await expectError("--port: 'http' is not an integer", flags: ["port": "http"])
        await expectError("CLASSY_PORT: '70000' is not an integer in 0...65535", env: ["CLASSY_PORT": "70000"])
        await expectError("CLASSY_REGISTRATION: 'maybe' is not one of", env: ["CLASSY_REGISTRATION": "maybe"])
        await expectError("CLASSY_TRUSTED_PROXIES: 'ten' is not an IP address", env: ["CLASSY_TRUSTED_PROXIES": "ten"])
        await expectError("CLASSY_TLS_CERT: cannot read file", env: ["CLASSY_TLS_CERT": "/nonexistent/cert.pem"])
        await expectError("CLASSY_ADMIN_EMAIL", env: ["CLASSY_ADMIN_EMAIL": "not-an-email"])
        await expectError("CLASSY_ADMIN_PASSWORD: must be 8 to 128", env: ["CLASSY_ADMIN_PASSWORD": "short"])
        await expectError("CLASSY_LOG_LEVEL", env: ["CLASSY_LOG_LEVEL": "loud"])
        await expectError("config file /nonexistent.json", env: ["CLASSY_CONFIG": "/nonexistent.json"])
    }

    @Test("TLS needs both certificate and key; mTLS needs TLS")
    func tlsPairs() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("classy-\(UUID()).pem")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        await expectError("must be given together", env: ["CLASSY_TLS_CERT": file.path])
        await expectError("mTLS needs", env: ["CLASSY_TLS_CLIENT_CA": file.path])
        let config = try await load(env: [
            "CLASSY_TLS_CERT": file.path, "CLASSY_TLS_KEY": file.path, "CLASSY_TLS_CLIENT_CA": file.path,
        ])
        #expect(config.tls?.clientCAPath == file.path)
    }

    @Test("a malformed config file is one clear line")
    func badFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("classy-\(UUID()).json")
        try Data("{ not json".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        await expectError("not valid JSON", env: ["CLASSY_CONFIG": file.path])
    }

    @Test("PostgreSQL URL and pool keys: flags > environment, defaults, one-line errors")
    func postgresKeys() async throws {
        let defaults = try await load()
        #expect(defaults.databasePool.size == 10)
        #expect(defaults.databasePool.connectTimeout == .seconds(5))
        #expect(defaults.databasePool.queryTimeout == .seconds(10))

        let config = try await load(
            flags: ["database_pool_size": "4"],
            env: [
                "CLASSY_DATABASE_URL": "postgres://classy:s%40cret@db.internal:6432/classy?sslmode=require",
                "CLASSY_DATABASE_POOL_SIZE": "20", "CLASSY_DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
                "CLASSY_DATABASE_QUERY_TIMEOUT_SECONDS": "30",
            ]
        )
        #expect(config.database == .postgres(url: "postgres://classy:s%40cret@db.internal:6432/classy?sslmode=require"))
        #expect(config.databasePool.size == 4)
        #expect(config.databasePool.connectTimeout == .seconds(2))
        #expect(config.databasePool.queryTimeout == .seconds(30))

        await expectError(
            "CLASSY_DATABASE_URL: missing user name", env: ["CLASSY_DATABASE_URL": "postgres://db/classy"])
        await expectError("missing database name", env: ["CLASSY_DATABASE_URL": "postgresql://u@db:5432"])
        await expectError("sslmode must be", env: ["CLASSY_DATABASE_URL": "postgres://u@db/x?sslmode=maybe"])
        await expectError("CLASSY_DATABASE_POOL_SIZE: '0'", env: ["CLASSY_DATABASE_POOL_SIZE": "0"])
        await expectError("--database-query-timeout-seconds", flags: ["database_query_timeout_seconds": "never"])
    }
}
