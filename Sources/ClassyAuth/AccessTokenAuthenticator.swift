import ClassyCore
import ClassyStore
import Foundation

/// Resolves access tokens to callers: signature and claims through the token service, then the
/// session (not revoked, not expired) and the account (active, not deleted) from the store, whose
/// current role wins over the token's. Used by the authentication interceptor and IntrospectToken.
public struct AccessTokenAuthenticator: Sendable {
    let tokens: TokenService
    let store: any ClassyStoreProtocol
    let clock: any WallClock

    /// How stale a session's last-used time may get before an authenticated call refreshes it.
    static let lastUsedResolution: TimeInterval = 60

    public init(tokens: TokenService, store: any ClassyStoreProtocol, clock: any WallClock) {
        self.tokens = tokens
        self.store = store
        self.clock = clock
    }

    /// The caller a token speaks for, or TOKEN_INVALID / TOKEN_EXPIRED / SESSION_REVOKED.
    public func authenticate(accessToken: String) async throws -> Caller {
        try await authenticateReturningAccount(accessToken: accessToken).caller
    }

    /// The caller a token speaks for and the account record read to check it (nil for service accounts).
    public func authenticateReturningAccount(accessToken: String) async throws -> (caller: Caller, account: UserRecord?)
    {
        let claims: AccessTokenClaims
        do {
            claims = try tokens.verify(accessToken)
        } catch .expired {
            throw ClassyError(.tokenExpired, "the access token has expired: refresh it")
        } catch {
            throw ClassyError(.tokenInvalid, "the access token is not valid")
        }
        return try await callerAndAccount(for: claims)
    }

    /// The caller of verified claims, checked against the store.
    public func caller(for claims: AccessTokenClaims) async throws -> Caller {
        try await callerAndAccount(for: claims).caller
    }

    /// The caller of verified claims and the account record read to check it (nil for service accounts).
    func callerAndAccount(for claims: AccessTokenClaims) async throws -> (caller: Caller, account: UserRecord?) {
        let now = clock.now()
        let revoked = ClassyError(.sessionRevoked, "the session of this token was revoked")
        guard let sessionID = claims.sessionID else {
            guard claims.role == .service,
                let account = try await store.serviceAccount(id: claims.subject), !account.deleted
            else { throw revoked }
            let caller = Caller(
                userID: account.id, sessionID: nil, role: .service, tokenID: claims.tokenID,
                expireTime: claims.expiresAt
            )
            return (caller, nil)
        }
        guard let (session, user) = try await store.sessionWithUser(id: sessionID), session.userID == claims.subject,
            session.revokedTime == nil, session.expireTime > now, user.isActive, !user.deleted
        else { throw revoked }
        if now.timeIntervalSince(session.lastUsedTime) >= Self.lastUsedResolution {
            try await store.touchSession(id: session.id, time: now)
        }
        let caller = Caller(
            userID: user.id, sessionID: session.id, role: user.role, tokenID: claims.tokenID,
            expireTime: claims.expiresAt
        )
        return (caller, user)
    }
}
