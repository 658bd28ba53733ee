import ClassyCore
import ClassyStorePostgres
import Configuration
import Foundation
import Logging
import SystemPackage

/// Reads ``ServerConfiguration`` from flags, environment and a config file.
///
/// Precedence: flags > environment > config file > defaults. Keys (config-file name, then the
/// environment variable, which is the key upper-cased with the `CLASSY_` prefix; the flag is
/// `--` plus the key with `-` for `_`):
///
/// | key | type | default |
/// |---|---|---|
/// | `host` | string | `127.0.0.1` |
/// | `port` | integer 0...65535 | `50051` |
/// | `database_url` | `sqlite:PATH`, `sqlite::memory:`, `postgres://USER:PASS@HOST:PORT/DB[?sslmode=disable\|prefer\|require]`, `mongodb://…` | `sqlite:./classy-data/classy.sqlite` |
/// | `database_pool_size` | integer 1...1000: PostgreSQL connections per replica | `10` |
/// | `database_connect_timeout_seconds` | integer 1...300: time to open one PostgreSQL connection | `5` |
/// | `database_query_timeout_seconds` | integer 1...3600: time one store operation may take (then UNAVAILABLE) | `10` |
/// | `admin_email` | email | `admin@classy.local` |
/// | `admin_password` | string (8...128) | generated and printed once |
/// | `registration` | `open`, `admin`, `closed` | `open` |
/// | `trusted_proxies` | comma-separated CIDRs | none |
/// | `refresh_grace_seconds` | integer 0...300 | `10` |
/// | `rate_limit` | `on`, `off` | `on` |
/// | `tls_cert`, `tls_key` | PEM file paths (both or neither) | plaintext |
/// | `tls_client_ca` | PEM file path (mTLS; needs `tls_cert`) | none |
/// | `log_level` | trace, debug, info, notice, warning, error, critical | `info` |
/// | `log_format` | `text`, `json` | `text` |
/// | `metrics_port` | integer 1...65535 | off |
/// | `max_request_bytes` | integer 1024...16777216 | `65536` |
/// | `ip_allow_list` | comma-separated CIDRs never counted nor blocked | none |
/// | `lockout_threshold` | integer 1...1000: failed logins per email that lock it | `5` |
/// | `lockout_window_seconds` | integer 1...86400: window they are counted in | `900` |
/// | `lockout_seconds` | integer 1...604800: first lock, doubling per further lock | `60` |
/// | `lockout_max_seconds` | integer 1...604800: longest lock | `3600` |
/// | `ip_block_threshold` | integer 1...100000: failed logins per IP (IPv6 /64) that block it | `20` |
/// | `ip_block_window_seconds` | integer 1...86400: window they are counted in | `900` |
/// | `ip_block_seconds` | integer 1...2592000: first block, doubling per further block | `900` |
/// | `ip_block_max_seconds` | integer 1...2592000: longest temporary block | `86400` |
/// | `ip_block_permanent_after` | integer 0...1000: the block number within 24 h that is permanent (0: never) | `5` |
/// | `login_attempt_retention_days` | integer 1...3650 | `30` |
/// | `rate_limit_credentials` | `RATE/BURST` (per second) for Register, Login, Refresh, IssueServiceToken | `10/30` |
/// | `rate_limit_standard` | `RATE/BURST` (per second) for every other RPC but Health | `100/200` |
/// | `stream_heartbeat_seconds` | integer 1...3600 | `15` |
/// | `stream_buffer_size` | integer 16...1000000: events a stream subscriber may fall behind | `1024` |
/// | `stream_coalescing_ms` | integer 0...1000: shortest time between two fan-out rounds of the event stream | `10` |
/// | `config` | path of a JSON config file (flag or environment only) | none |
public struct ConfigurationLoader: Sendable {
    /// Every key, in the order of the table above.
    public static let keys = [
        "host", "port", "database_url", "database_pool_size", "database_connect_timeout_seconds",
        "database_query_timeout_seconds", "admin_email", "admin_password", "registration", "trusted_proxies",
        "refresh_grace_seconds", "rate_limit", "tls_cert", "tls_key", "tls_client_ca", "log_level", "log_format",
        "metrics_port", "max_request_bytes", "ip_allow_list", "lockout_threshold", "lockout_window_seconds",
        "lockout_seconds", "lockout_max_seconds", "ip_block_threshold", "ip_block_window_seconds", "ip_block_seconds",
        "ip_block_max_seconds", "ip_block_permanent_after", "login_attempt_retention_days", "rate_limit_credentials",
        "rate_limit_standard", "stream_heartbeat_seconds", "stream_buffer_size",
        "stream_coalescing_ms",
    ]

    private let flags: [String: String]
    private let environment: [String: String]

    /// - Parameters:
    ///   - flags: values given as flags, keyed by config key (`database_url`).
    ///   - environment: the process environment.
    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.flags = flags
        self.environment = environment
    }

    /// Loads and validates the configuration.
    public func load() async throws(ConfigurationError) -> ServerConfiguration {
        let flagProvider = InMemoryProvider(
            name: "flags",
            values: Dictionary(
                uniqueKeysWithValues: flags.map {
                    (AbsoluteConfigKey([$0.key]), ConfigValue(.string($0.value), isSecret: false))
                })
        )
        let environmentProvider = KeyMappingProvider(
            upstream: EnvironmentVariablesProvider(environmentVariables: environment),
            keyMapper: { key in AbsoluteConfigKey(["classy"] + key.components, context: key.context) }
        )
        var sources: [Source] = [
            Source(provider: flagProvider, describe: { "--\($0.replacingOccurrences(of: "_", with: "-"))" }),
            Source(provider: environmentProvider, describe: { "CLASSY_\($0.uppercased())" }),
        ]
        let configPath = flags["config"] ?? environment["CLASSY_CONFIG"]
        if let configPath, !configPath.isEmpty {
            guard FileManager.default.isReadableFile(atPath: configPath) else {
                throw ConfigurationError("config file \(configPath): not found or not readable")
            }
            do {
                let file = try await FileProvider<JSONSnapshot>(filePath: FilePath(configPath))
                sources.append(Source(provider: file, describe: { "\(configPath): \($0)" }))
            } catch {
                throw ConfigurationError("config file \(configPath): not valid JSON (\(error))")
            }
        }
        return try Reader(sources: sources).configuration()
    }

    /// One provider and how its keys are named in error messages.
    fileprivate struct Source {
        var provider: any ConfigProvider
        var describe: @Sendable (String) -> String
    }
}

/// Turns raw values into a validated ``ServerConfiguration``, naming the offending source on error.
private struct Reader {
    var sources: [ConfigurationLoader.Source]

    /// The highest-precedence value of a key as text, and the name it was given under.
    func raw(_ key: String) throws(ConfigurationError) -> (value: String, name: String)? {
        for source in sources {
            for type in [ConfigType.string, .int, .bool, .double, .stringArray] {
                guard let result = try? source.provider.value(forKey: AbsoluteConfigKey([key]), type: type),
                    let value = result.value
                else { continue }
                let text: String
                switch value.content {
                case .string(let string): text = string
                case .int(let int): text = String(int)
                case .bool(let bool): text = bool ? "true" : "false"
                case .double(let double): text = String(double)
                case .stringArray(let strings): text = strings.joined(separator: ",")
                default: throw ConfigurationError("\(source.describe(key)): unsupported value")
                }
                return (text.trimmingCharacters(in: .whitespaces), source.describe(key))
            }
        }
        return nil
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let (value, name) = try raw(key) else { return nil }
        guard let number = Int(value), range.contains(number) else {
            throw ConfigurationError(
                "\(name): '\(value)' is not an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func choice<T>(_ key: String, _ choices: [String: T]) throws(ConfigurationError) -> T? {
        guard let (value, name) = try raw(key) else { return nil }
        guard let choice = choices[value.lowercased()] else {
            let allowed = choices.keys.sorted().joined(separator: ", ")
            throw ConfigurationError("\(name): '\(value)' is not one of \(allowed)")
        }
        return choice
    }

    func readableFile(_ key: String) throws(ConfigurationError) -> String? {
        guard let (path, name) = try raw(key), !path.isEmpty else { return nil }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigurationError("\(name): cannot read file '\(path)'")
        }
        return path
    }

    func configuration() throws(ConfigurationError) -> ServerConfiguration {
        var config = ServerConfiguration()
        if let (host, name) = try raw("host") {
            guard !host.isEmpty, host.count <= 253, !host.contains(" ") else {
                throw ConfigurationError("\(name): '\(host)' is not a host name or address")
            }
            config.host = host
        }
        if let port = try int("port", in: 0...65535) { config.port = port }
        if let (url, name) = try raw("database_url") { config.database = try Self.database(url, name: name) }
        if let size = try int("database_pool_size", in: 1...1000) { config.databasePool.size = size }
        if let seconds = try int("database_connect_timeout_seconds", in: 1...300) {
            config.databasePool.connectTimeout = .seconds(seconds)
        }
        if let seconds = try int("database_query_timeout_seconds", in: 1...3600) {
            config.databasePool.queryTimeout = .seconds(seconds)
        }
        if let (email, name) = try raw("admin_email") {
            var check = FieldValidator()
            config.adminEmail = check.email(name, email)
            if let violation = check.violations.first {
                throw ConfigurationError("\(name): '\(email)' \(violation.description)")
            }
        }
        if let (password, name) = try raw("admin_password"), !password.isEmpty {
            guard (8...128).contains(password.count) else {
                throw ConfigurationError("\(name): must be 8 to 128 characters")
            }
            config.adminPassword = password
        }
        if let registration = try choice(
            "registration",
            ["open": ServerConfiguration.Registration.open, "admin": .closed, "closed": .closed]
        ) {
            config.registration = registration
        }
        if let (list, name) = try raw("trusted_proxies") {
            config.trustedProxies = try list.split(separator: ",").map { item throws(ConfigurationError) in
                let text = item.trimmingCharacters(in: .whitespaces)
                guard let network = IPNetwork(text) else {
                    throw ConfigurationError("\(name): '\(text)' is not an IP address or CIDR range")
                }
                return network
            }
        }
        if let grace = try int("refresh_grace_seconds", in: 0...300) { config.refreshGraceSeconds = grace }
        if let enabled = try choice(
            "rate_limit",
            ["on": true, "off": false, "true": true, "false": false, "1": true, "0": false]
        ) {
            config.rateLimitEnabled = enabled
        }
        let cert = try readableFile("tls_cert")
        let key = try readableFile("tls_key")
        let clientCA = try readableFile("tls_client_ca")
        switch (cert, key) {
        case (let cert?, let key?):
            config.tls = .init(certificatePath: cert, privateKeyPath: key, clientCAPath: clientCA)
        case (nil, nil):
            if clientCA != nil {
                throw ConfigurationError("CLASSY_TLS_CLIENT_CA: mTLS needs CLASSY_TLS_CERT and CLASSY_TLS_KEY too")
            }
        default:
            throw ConfigurationError("CLASSY_TLS_CERT and CLASSY_TLS_KEY must be given together")
        }
        if let level = try choice(
            "log_level",
            Dictionary(uniqueKeysWithValues: Logger.Level.allCases.map { ($0.rawValue, $0) })
        ) {
            config.logLevel = level
        }
        if let format = try choice("log_format", ["text": ServerConfiguration.LogFormat.text, "json": .json]) {
            config.logFormat = format
        }
        if let metricsPort = try int("metrics_port", in: 0...65535) {
            config.metricsPort = metricsPort == 0 ? nil : metricsPort
        }
        if let size = try int("max_request_bytes", in: 1024...16_777_216) { config.maxRequestBytes = size }
        try security(&config)
        return config
    }

    /// The brute-force, rate-limit, retention and stream keys.
    func security(_ config: inout ServerConfiguration) throws(ConfigurationError) {
        if let list = try networks("ip_allow_list") { config.bruteForce.allowList = list }
        if let value = try int("lockout_threshold", in: 1...1000) { config.bruteForce.email.threshold = value }
        if let value = try int("lockout_window_seconds", in: 1...86400) {
            config.bruteForce.email.window = TimeInterval(value)
        }
        if let value = try int("lockout_seconds", in: 1...604_800) {
            config.bruteForce.email.baseLock = TimeInterval(value)
        }
        if let value = try int("lockout_max_seconds", in: 1...604_800) {
            config.bruteForce.email.maxLock = TimeInterval(value)
        }
        if let value = try int("ip_block_threshold", in: 1...100_000) { config.bruteForce.ip.threshold = value }
        if let value = try int("ip_block_window_seconds", in: 1...86400) {
            config.bruteForce.ip.window = TimeInterval(value)
        }
        if let value = try int("ip_block_seconds", in: 1...2_592_000) {
            config.bruteForce.ip.baseBlock = TimeInterval(value)
        }
        if let value = try int("ip_block_max_seconds", in: 1...2_592_000) {
            config.bruteForce.ip.maxBlock = TimeInterval(value)
        }
        if let value = try int("ip_block_permanent_after", in: 0...1000) { config.bruteForce.ip.permanentAfter = value }
        if let days = try int("login_attempt_retention_days", in: 1...3650) {
            config.loginAttemptRetention = TimeInterval(days) * 86400
        }
        if let bucket = try bucket("rate_limit_credentials") { config.rateLimits.credentials = bucket }
        if let bucket = try bucket("rate_limit_standard") { config.rateLimits.standard = bucket }
        if let seconds = try int("stream_heartbeat_seconds", in: 1...3600) {
            config.streamHeartbeatInterval = .seconds(seconds)
        }
        if let size = try int("stream_buffer_size", in: 16...1_000_000) { config.streamBufferSize = size }
        if let milliseconds = try int("stream_coalescing_ms", in: 0...1000) {
            config.streamCoalescingMilliseconds = milliseconds
        }
    }

    func networks(_ key: String) throws(ConfigurationError) -> [IPNetwork]? {
        guard let (list, name) = try raw(key) else { return nil }
        return try list.split(separator: ",").map { item throws(ConfigurationError) in
            let text = item.trimmingCharacters(in: .whitespaces)
            guard let network = IPNetwork(text) else {
                throw ConfigurationError("\(name): '\(text)' is not an IP address or CIDR range")
            }
            return network
        }
    }

    func bucket(_ key: String) throws(ConfigurationError) -> RateLimiter.Bucket? {
        guard let (value, name) = try raw(key) else { return nil }
        let parts = value.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let rate = Double(parts[0]), let burst = Double(parts[1]), rate > 0, rate <= 1_000_000,
            burst >= 1, burst <= 1_000_000
        else {
            throw ConfigurationError("\(name): '\(value)' is not RATE/BURST (for example 10/30)")
        }
        return RateLimiter.Bucket(rate: rate, burst: burst)
    }

    static func database(_ url: String, name: String) throws(ConfigurationError) -> ServerConfiguration.Database {
        if url == "sqlite::memory:" || url == "sqlite:memory" { return .sqliteInMemory }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw ConfigurationError("\(name): 'sqlite:' needs a file path") }
            return .sqlite(path: path)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            do {
                _ = try PostgresStoreConfiguration(url: url)
            } catch {
                throw ConfigurationError("\(name): \(error)")
            }
            return .postgres(url: url)
        }
        if url.hasPrefix("mongodb://") { return .mongodb(url: url) }
        let scheme = url.split(separator: ":").first.map(String.init) ?? url
        throw ConfigurationError(
            "\(name): unknown database scheme '\(scheme)' (use sqlite:PATH, sqlite::memory:, postgres://… or mongodb://…)"
        )
    }
}
