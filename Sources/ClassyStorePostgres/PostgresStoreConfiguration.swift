import Foundation

/// Where a ``PostgresStore`` connects and how it pools and bounds its connections.
///
/// ```swift
/// var configuration = try PostgresStoreConfiguration(url: "postgres://classy:secret@db.internal:5432/classy")
/// configuration.queryTimeout = .seconds(5)
/// ```
public struct PostgresStoreConfiguration: Sendable, Hashable {
    /// Whether the connection uses TLS (`?sslmode=` in the URL).
    public enum TLSMode: String, Sendable, Hashable {
        /// Plaintext (default; loopback and private networks).
        case disable
        /// TLS if the server offers it.
        case prefer
        /// TLS or fail.
        case require
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The role to connect as.
    public var username: String
    /// Its password, if any.
    public var password: String?
    /// The database name.
    public var database: String
    /// TLS mode.
    public var tls: TLSMode
    /// The most connections the pool opens (per replica).
    public var poolSize: Int = 10
    /// How long opening one connection may take before it counts as failed.
    public var connectTimeout: Duration = .seconds(5)
    /// How long one store operation (leasing a connection included) may take before it fails with
    /// `StoreError.unavailable`; also the server-side `statement_timeout`.
    public var queryTimeout: Duration = .seconds(10)

    /// Creates a configuration from its parts.
    public init(
        host: String, port: Int = 5432, username: String, password: String?, database: String, tls: TLSMode = .disable
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses `postgres://USER:PASS@HOST:PORT/DB` (also `postgresql://`; `?sslmode=disable|prefer|require`).
    ///
    /// Throws ``PostgresURLError`` with a one-line reason; the message never contains the password.
    public init(url: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw PostgresURLError("not a postgres:// URL (expected postgres://USER:PASS@HOST:PORT/DB)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresURLError("missing host (expected postgres://USER:PASS@HOST:PORT/DB)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError("missing user name (expected postgres://USER:PASS@HOST:PORT/DB)")
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else {
            throw PostgresURLError("missing database name (expected postgres://USER:PASS@HOST:PORT/DB)")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else {
            throw PostgresURLError("port \(port) is out of range")
        }
        var tls = TLSMode.disable
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    throw PostgresURLError("sslmode must be disable, prefer or require")
                }
                tls = mode
            default:
                throw PostgresURLError("unknown URL parameter '\(item.name)' (only sslmode is supported)")
            }
        }
        self.init(
            host: host,
            port: port,
            username: components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? user,
            password: components.percentEncodedPassword.flatMap { $0.removingPercentEncoding },
            database: path.removingPercentEncoding ?? path,
            tls: tls
        )
    }

    /// The URL without its password, for logs.
    public var redactedURL: String {
        "postgres://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }
}

/// A `postgres://` URL that cannot be used.
public struct PostgresURLError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The one-line reason.
    public var description: String

    /// Creates an error with a reason.
    public init(_ description: String) { self.description = description }
}
