import ClassyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf

#if canImport(Glibc)
    import Glibc
#endif

/// Where the server is and how to secure the connection to it.
public struct ServerEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// TLS settings; nil for plaintext.
    public var tls: TLSOptions?

    /// TLS settings: the CA bundle that signs the server certificate (system roots if nil), and an optional client
    /// certificate for mTLS.
    public struct TLSOptions: Sendable, Hashable {
        /// PEM CA bundle; nil for the system roots.
        public var caCertificatePath: String?
        /// PEM client certificate (mTLS).
        public var clientCertificatePath: String?
        /// PEM key of the client certificate.
        public var clientKeyPath: String?

        /// TLS settings.
        public init(
            caCertificatePath: String? = nil, clientCertificatePath: String? = nil, clientKeyPath: String? = nil
        ) {
            self.caCertificatePath = caCertificatePath
            self.clientCertificatePath = clientCertificatePath
            self.clientKeyPath = clientKeyPath
        }
    }

    /// An endpoint.
    public init(host: String, port: Int, tls: TLSOptions? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
    }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `HOST` (port 50051).
    public init(parsing text: String, tls: TLSOptions? = nil) throws(MonitorFailure) {
        let bad = MonitorFailure.usage("--server '\(text)': expected HOST:PORT, e.g. 127.0.0.1:50051 or [::1]:50051")
        var host = text
        var portText: String?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw bad }
                portText = String(rest.dropFirst())
            }
        } else if let colon = text.lastIndex(of: ":") {
            guard text.firstIndex(of: ":") == colon else { throw bad }  // bare IPv6 needs brackets
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard !host.isEmpty else { throw bad }
        var port = 50051
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw bad }
            port = value
        }
        self.init(host: host, port: port, tls: tls)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The gRPC transport for this endpoint: a short reconnect backoff (the monitor runs its own, visible one) and
    /// HTTP/2 keepalive so a dead peer is noticed even between server heartbeats.
    public func makeTransport() throws -> HTTP2ClientTransport.Posix {
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if let tls {
            let trust: TLSConfig.TrustRootsSource =
                tls.caCertificatePath.map { .certificates([.file(path: $0, format: .pem)]) } ?? .systemDefault
            if let certificate = tls.clientCertificatePath, let key = tls.clientKeyPath {
                security = .mTLS(
                    certificateChain: [.file(path: certificate, format: .pem)],
                    privateKey: .file(path: key, format: .pem)
                ) { $0.trustRoots = trust }
            } else {
                security = .tls { $0.trustRoots = trust }
            }
        } else {
            security = .plaintext
        }
        // An IP literal is not resolved by DNS; it also keeps the address out of the TLS SNI extension (which must
        // be a name), and the certificate is then checked against the address itself.
        let target: any ResolvableTarget
        if Self.isIPv4(host) {
            target = .ipv4(address: host, port: port)
        } else if Self.isIPv6(host) {
            target = .ipv6(address: host, port: port)
        } else {
            target = .dns(host: host, port: port)
        }
        return try HTTP2ClientTransport.Posix(
            target: target,
            transportSecurity: security,
            config: .defaults {
                $0.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
                $0.connection.keepalive = .init(time: .seconds(20), timeout: .seconds(10), allowWithoutCalls: true)
            }
        )
    }
}

extension ServerEndpoint {
    static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}

/// AuthService calls over a gRPC client.
public struct GRPCAuthenticator: Authenticating {
    let auth: Classy_Auth_V1_AuthService.Client<HTTP2ClientTransport.Posix>
    let options: CallOptions

    /// An authenticator over `client`, each call bounded by `timeout`.
    public init(client: GRPCClient<HTTP2ClientTransport.Posix>, timeout: Duration = .seconds(15)) {
        auth = .init(wrapping: client)
        var options = CallOptions.defaults
        options.timeout = timeout
        self.options = options
    }

    static let clientInfo = Classy_Auth_V1_ClientInfo.with {
        $0.deviceName = ProcessInfo.processInfo.hostName
        $0.platform = "linux"
        $0.appVersion = MonitorVersion.current
        $0.userAgent = "classy-monitor/\(MonitorVersion.current)"
    }

    /// AuthService.Login.
    public func login(email: String, password: String) async throws -> IssuedToken {
        let response = try await auth.login(
            .with {
                $0.email = email
                $0.password = password
                $0.client = Self.clientInfo
            },
            options: options
        )
        return IssuedToken(
            accessToken: response.tokens.accessToken,
            expireTime: response.tokens.hasAccessTokenExpireTime ? response.tokens.accessTokenExpireTime.date : nil,
            refreshToken: response.tokens.refreshToken
        )
    }

    /// AuthService.Refresh.
    public func refresh(refreshToken: String) async throws -> IssuedToken {
        let response = try await auth.refresh(
            .with {
                $0.refreshToken = refreshToken
                $0.client = Self.clientInfo
            },
            options: options
        )
        return IssuedToken(
            accessToken: response.tokens.accessToken,
            expireTime: response.tokens.hasAccessTokenExpireTime ? response.tokens.accessTokenExpireTime.date : nil,
            refreshToken: response.tokens.refreshToken
        )
    }

    /// AuthService.IssueServiceToken.
    public func issueServiceToken(clientID: String, clientSecret: String) async throws -> IssuedToken {
        let response = try await auth.issueServiceToken(
            .with {
                $0.clientID = clientID
                $0.clientSecret = clientSecret
            },
            options: options
        )
        return IssuedToken(
            accessToken: response.accessToken,
            expireTime: response.hasExpireTime ? response.expireTime.date : nil
        )
    }
}

/// The version reported in `ClientInfo` and `--version`.
public enum MonitorVersion {
    /// This version.
    public static let current = "1.0.0"
}
