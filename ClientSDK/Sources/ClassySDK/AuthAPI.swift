internal import ClassyAPI
import Foundation
internal import GRPCCore

/// Sign-in, sign-out, sessions and passwords.
public struct AuthAPI: Sendable {
    let client: ClassyClient

    /// Signs in with email and password; the tokens go to the token store.
    ///
    /// Errors: INVALID_CREDENTIALS, ACCOUNT_DISABLED, ACCOUNT_LOCKED (with `retryAfter`), IP_BLOCKED,
    /// RATE_LIMITED, INVALID_FIELD, OFFLINE.
    @discardableResult
    public func signIn(email: String, password: String) async throws -> User {
        let info = client.configuration.clientInfo.api
        let response = try await client.anonymous {
            try await client.auth_.login(
                .with {
                    $0.email = email
                    $0.password = password
                    $0.client = info
                },
                options: client.unaryOptions
            )
        }
        return try await adopt(response.tokens, user: response.user)
    }

    /// Creates an account (when registration is open) and signs it in.
    @discardableResult
    public func register(email: String, password: String, firstName: String, lastName: String) async throws -> User {
        let info = client.configuration.clientInfo.api
        let response = try await client.anonymous {
            try await client.auth_.register(
                .with {
                    $0.email = email
                    $0.password = password
                    $0.firstName = firstName
                    $0.lastName = lastName
                    $0.client = info
                },
                options: client.unaryOptions
            )
        }
        return try await adopt(response.tokens, user: response.user)
    }

    /// Signs out. `.current` and `.all` revoke this session on the server (best effort: when the server
    /// cannot be reached the client still forgets its tokens) and end with `authState` signed out;
    /// `.others` keeps this session and returns how many others were revoked.
    @discardableResult
    public func signOut(_ scope: SignOutScope = .current) async throws -> Int {
        let apiScope: Classy_Auth_V1_LogoutScope =
            switch scope {
            case .current: .current
            case .others: .others
            case .all: .all
            }
        if scope == .others {
            return try await client.authorized { metadata in
                try await client.auth_.logout(
                    .with { $0.scope = apiScope }, metadata: metadata, options: client.unaryOptions
                ).revokedSessions
            }.asInt
        }
        var revoked = 0
        if let token = await client.credentials.currentAccessToken {
            // Not through `authorized`: signing out must not start a refresh.
            revoked =
                (try? await client.auth_.logout(
                    .with { $0.scope = apiScope }, metadata: ["authorization": "Bearer \(token)"],
                    options: client.unaryOptions
                ).revokedSessions.asInt) ?? 0
        }
        await client.credentials.signOut(.userSignedOut)
        return revoked
    }

    /// The account's active sessions (cached for offline reads).
    public func sessions() async throws -> Cached<[Session]> {
        try await client.cached(key: OfflineCache.Key.sessions) {
            var sessions: [Session] = []
            var pageToken = ""
            repeat {
                let token = pageToken
                let page = try await client.authorized { metadata in
                    try await client.auth_.listSessions(
                        .with {
                            $0.pageSize = 500
                            $0.pageToken = token
                        },
                        metadata: metadata, options: client.unaryOptions
                    )
                }
                sessions += page.sessions.map(Session.init)
                pageToken = page.nextPageToken
            } while !pageToken.isEmpty
            return sessions
        }
    }

    /// Revokes one of the account's sessions (admins: anyone's). Revoking the current one signs out.
    public func revokeSession(id: String) async throws {
        _ = try await client.authorized { metadata in
            try await client.auth_.revokeSession(
                .with { $0.sessionID = id }, metadata: metadata, options: client.unaryOptions
            )
        }
        await client.credentials.sessionEnded(.sessionRevoked, sessionID: id)
    }

    /// Changes the password; the server issues new tokens for this session (other sessions end unless
    /// `keepOtherSessions`).
    public func changePassword(current: String, new: String, keepOtherSessions: Bool = false) async throws {
        let response = try await client.authorized { metadata in
            try await client.auth_.changePassword(
                .with {
                    $0.currentPassword = current
                    $0.newPassword = new
                    $0.keepOtherSessions = keepOtherSessions
                },
                metadata: metadata, options: client.unaryOptions
            )
        }
        guard var account = await client.credentials.account else { throw ClassyClientError.signedOut() }
        if !response.tokens.sessionID.isEmpty { account.sessionID = response.tokens.sessionID }
        try await client.credentials.signIn(Self.credentials(response.tokens, account: account))
    }

    /// The Refresh RPC (used by the credentials manager only).
    func performRefresh(refreshToken: String) async throws -> StoredCredentials {
        let info = client.configuration.clientInfo.api
        let response = try await client.anonymous {
            try await client.auth_.refresh(
                .with {
                    $0.refreshToken = refreshToken
                    $0.client = info
                },
                options: client.unaryOptions
            )
        }
        let user = User(response.user)
        return Self.credentials(
            response.tokens,
            account: Account(userID: user.id, email: user.email, role: user.role, sessionID: response.tokens.sessionID)
        )
    }

    private func adopt(_ tokens: Classy_Auth_V1_Tokens, user apiUser: Classy_Users_V1_User) async throws -> User {
        let user = User(apiUser)
        let account = Account(userID: user.id, email: user.email, role: user.role, sessionID: tokens.sessionID)
        try await client.credentials.signIn(Self.credentials(tokens, account: account))
        try? await client.cache()?.put(user, at: OfflineCache.Key.me, fetched: client.configuration.now())
        client.wakeSync()
        return user
    }

    static func credentials(_ tokens: Classy_Auth_V1_Tokens, account: Account) -> StoredCredentials {
        StoredCredentials(
            account: account, accessToken: tokens.accessToken,
            accessTokenExpireTime: tokens.accessTokenExpireTime.date, refreshToken: tokens.refreshToken,
            refreshTokenExpireTime: tokens.refreshTokenExpireTime.date
        )
    }
}

extension Int32 {
    var asInt: Int { Int(self) }
}
