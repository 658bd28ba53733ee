import Foundation

/// Holds the signed-in account's tokens: refreshes ahead of expiry, one refresh at a time, and makes
/// sure a refresh that finishes after a sign-out never brings the session back.
///
/// Every sign-in and sign-out starts a new epoch; a refresh remembers the epoch it started in and its
/// result is dropped if the epoch moved on. Token store calls are synchronous inside the actor, so a
/// save can never land after the clear of a later sign-out.
actor CredentialsManager {
    /// Calls the Refresh RPC with a refresh token and returns the new credentials.
    typealias Refresher = @Sendable (_ refreshToken: String) async throws -> StoredCredentials

    private let store: any TokenStore
    private let refresher: Refresher
    private let leeway: Duration
    private let now: @Sendable () -> Date
    private let hooks: ClientHooks
    private let states: Broadcaster<AuthState>
    private var credentials: StoredCredentials?
    private var epoch: UInt64 = 0
    private var refreshing: (epoch: UInt64, task: Task<StoredCredentials, any Error>)?

    init(
        store: any TokenStore, refresher: @escaping Refresher, leeway: Duration, now: @escaping @Sendable () -> Date,
        hooks: ClientHooks, states: Broadcaster<AuthState>
    ) {
        self.store = store
        self.refresher = refresher
        self.leeway = leeway
        self.now = now
        self.hooks = hooks
        self.states = states
        let loaded = try? store.load()
        self.credentials = loaded
        states.publish(loaded.map { .signedIn($0.account) } ?? .signedOut(.notSignedIn))
    }

    /// The signed-in account, if any.
    var account: Account? { credentials?.account }

    /// An access token good for at least the leeway, refreshing first if needed.
    func accessToken() async throws -> String {
        guard let current = credentials else { throw ClassyClientError.signedOut() }
        let deadline = now().addingTimeInterval(Double(leeway.components.seconds))
        if current.accessTokenExpireTime > deadline { return current.accessToken }
        do {
            return try await refresh(replacing: current.accessToken).accessToken
        } catch let error as ClassyClientError where error.isTransient && current.accessTokenExpireTime > now() {
            // The early refresh can wait: the token still works (the server decides if it does not).
            return current.accessToken
        }
    }

    /// Refreshes because `token` was refused (TOKEN_EXPIRED) or is about to expire. If another call
    /// already replaced that token, returns the newer credentials without a second Refresh.
    func refresh(replacing token: String) async throws -> StoredCredentials {
        guard let current = credentials else { throw ClassyClientError.signedOut() }
        if current.accessToken != token { return current }
        if let refreshing, refreshing.epoch == epoch {
            return try await refreshing.task.value
        }
        let startEpoch = epoch
        let refresher = self.refresher
        let hooks = self.hooks
        let refreshToken = current.refreshToken
        let task = Task<StoredCredentials, any Error> {
            let renewed: StoredCredentials
            do {
                renewed = try await refresher(refreshToken)
            } catch {
                await hooks.afterRefreshRPC?()
                try self.refreshFailed(error, epoch: startEpoch)
            }
            await hooks.afterRefreshRPC?()
            return try self.refreshSucceeded(renewed, epoch: startEpoch)
        }
        refreshing = (startEpoch, task)
        return try await task.value
    }

    private func refreshSucceeded(_ renewed: StoredCredentials, epoch startEpoch: UInt64) throws -> StoredCredentials {
        if refreshing?.epoch == startEpoch { refreshing = nil }
        guard startEpoch == epoch, credentials != nil else {
            throw ClassyClientError.signedOut("signed out while the session was being refreshed")
        }
        credentials = renewed
        try? store.save(renewed)
        return renewed
    }

    private func refreshFailed(_ error: any Error, epoch startEpoch: UInt64) throws -> Never {
        if refreshing?.epoch == startEpoch { refreshing = nil }
        let wrapped = ClassyClientError.wrap(error)
        guard startEpoch == epoch else {
            throw ClassyClientError.signedOut("signed out while the session was being refreshed")
        }
        if let failure = wrapped as? ClassyClientError, !failure.isTransient, failure.status != .cancelled {
            switch failure.reason {
            case ClassyClientError.Reason.refreshTokenReused: signOut(.refreshTokenReused)
            case ClassyClientError.Reason.sessionRevoked: signOut(.sessionRevoked)
            case ClassyClientError.Reason.tokenInvalid, ClassyClientError.Reason.tokenExpired:
                signOut(.refreshFailed(reason: failure.reason))
            default: break
            }
        }
        throw wrapped
    }

    /// Starts a new session with these credentials.
    func signIn(_ newCredentials: StoredCredentials) throws {
        epoch += 1
        refreshing = nil
        credentials = newCredentials
        try store.save(newCredentials)
        states.publish(.signedIn(newCredentials.account))
    }

    /// Forgets the session (idempotent: a second sign-out keeps the first reason).
    func signOut(_ reason: SignOutReason) {
        guard credentials != nil else { return }
        epoch += 1
        refreshing = nil
        credentials = nil
        try? store.clear()
        states.publish(.signedOut(reason))
    }

    /// Signs out if the server says `token`'s session is gone; ignores news about an older session.
    func sessionEnded(_ reason: SignOutReason, sessionID: String?) {
        guard let credentials, sessionID == nil || sessionID == credentials.account.sessionID else { return }
        signOut(reason)
    }

    /// The current access token without refreshing (for best-effort logout).
    var currentAccessToken: String? { credentials?.accessToken }
}

/// Test seams: points where a test can pause the client or make it fail as if the process died.
/// Not part of the supported API (`@_spi(Testing) import ClassySDK`).
@_spi(Testing)
public struct ClientHooks: Sendable {
    /// Runs after a Refresh RPC returned and before its result is applied.
    public var afterRefreshRPC: (@Sendable () async -> Void)?
    /// Runs after an outbox mutation was accepted by the server and before the outbox records it.
    /// Throwing (or never returning) here is the process dying at that moment.
    public var afterMutationSent: (@Sendable (_ idempotencyKey: String) async throws -> Void)?

    public init() {}
}
