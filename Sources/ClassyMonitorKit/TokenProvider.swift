import Foundation

/// How `classy-monitor` proves who it is.
public enum Credentials: Sendable, Hashable {
    /// An access token obtained elsewhere (`CLASSY_TOKEN`); it cannot be renewed.
    case accessToken(String)
    /// An admin's email and password: Login, then Refresh (or Login again) when the token runs out.
    case password(email: String, password: String)
    /// A service account's client credentials: IssueServiceToken, again when the token runs out.
    case clientCredentials(clientID: String, clientSecret: String)

    /// Whether a new token can be obtained without the user.
    public var isRenewable: Bool {
        if case .accessToken = self { return false }
        return true
    }
}

/// An access token and what is known about it.
public struct IssuedToken: Sendable, Hashable {
    /// The bearer token.
    public var accessToken: String
    /// When the access token expires, if known.
    public var expireTime: Date?
    /// A refresh token (password logins only).
    public var refreshToken: String?

    /// A token.
    public init(accessToken: String, expireTime: Date? = nil, refreshToken: String? = nil) {
        self.accessToken = accessToken
        self.expireTime = expireTime
        self.refreshToken = refreshToken
    }
}

/// The AuthService calls the token provider needs (a seam for tests).
public protocol Authenticating: Sendable {
    func login(email: String, password: String) async throws -> IssuedToken
    func refresh(refreshToken: String) async throws -> IssuedToken
    func issueServiceToken(clientID: String, clientSecret: String) async throws -> IssuedToken
}

/// Hands out a valid access token, renewing it ahead of expiry and when the server rejects it.
///
/// One renewal runs at a time; concurrent callers wait for it. With password credentials a renewal first tries
/// Refresh and falls back to Login when the refresh token is no longer accepted.
public actor TokenProvider {
    /// How tokens are obtained.
    public nonisolated let credentials: Credentials
    private let authenticator: any Authenticating
    private let now: @Sendable () -> Date
    /// Tokens expiring within this margin are renewed before use.
    private let renewalMargin: TimeInterval
    private var current: IssuedToken?
    private var renewal: Task<IssuedToken, any Error>?
    /// How many tokens were obtained (logins, refreshes, service tokens).
    public private(set) var renewals = 0

    /// A provider; `renewalMargin` before expiry a token is replaced, `now` is the clock.
    public init(
        credentials: Credentials,
        authenticator: any Authenticating,
        renewalMargin: TimeInterval = 60,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.credentials = credentials
        self.authenticator = authenticator
        self.renewalMargin = renewalMargin
        self.now = now
        if case .accessToken(let token) = credentials {
            current = IssuedToken(accessToken: token)
        }
    }

    /// A token to send; `forceRenew` after the server rejected the previous one.
    public func token(forceRenew: Bool = false) async throws -> String {
        if let current, !forceRenew, !expiresSoon(current) {
            return current.accessToken
        }
        if let renewal {
            return try await renewal.value.accessToken
        }
        guard credentials.isRenewable else {
            throw MonitorFailure(
                .authentication,
                "the access token from CLASSY_TOKEN was rejected or expired and cannot be renewed; use --email or --client-id for long watches",
                reason: "TOKEN_EXPIRED"
            )
        }
        let previous = current
        let task = Task { try await self.obtain(previous: previous) }
        renewal = task
        defer { renewal = nil }
        let issued = try await task.value
        current = issued
        renewals += 1
        return issued.accessToken
    }

    private func expiresSoon(_ token: IssuedToken) -> Bool {
        guard let expireTime = token.expireTime else { return false }
        return now().addingTimeInterval(renewalMargin) >= expireTime
    }

    private func obtain(previous: IssuedToken?) async throws -> IssuedToken {
        switch credentials {
        case .accessToken:
            preconditionFailure("static tokens are not renewed")
        case .password(let email, let password):
            if let refreshToken = previous?.refreshToken {
                do {
                    return try await authenticator.refresh(refreshToken: refreshToken)
                } catch {
                    // The refresh token expired, was revoked or the server forgot the session: sign in again.
                    if case .retry = MonitorFailure.disposition(of: error) { throw error }
                }
            }
            return try await authenticator.login(email: email, password: password)
        case .clientCredentials(let clientID, let clientSecret):
            return try await authenticator.issueServiceToken(clientID: clientID, clientSecret: clientSecret)
        }
    }
}
