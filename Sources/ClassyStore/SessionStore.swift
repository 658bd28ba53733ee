import Foundation

/// Sessions and the refresh-token family each one holds.
///
/// Every refresh-token hash ever issued to a session is remembered, so a token older than the previous one
/// is still recognised as reuse rather than as an unknown token.
public protocol SessionStore: Sendable {
    /// Stores a new session for an existing, non-deleted user (``StoreError/Code/notFound`` otherwise).
    func createSession(_ session: SessionRecord, effects: StoreEffects) async throws -> SessionRecord

    /// Returns the session with `id`, revoked and expired ones included.
    func session(id: String) async throws -> SessionRecord?

    /// Returns the session with `id` and its user, read together (the authentication hot path: one
    /// round trip per RPC). Nil if either is missing.
    func sessionWithUser(id: String) async throws -> (session: SessionRecord, user: UserRecord)?

    /// Returns the session that was ever issued the refresh token with this hash (current, previous or older).
    func session(refreshHash: String) async throws -> SessionRecord?

    /// Sets the session's last-used time; returns `false` if there is no such session.
    @discardableResult
    func touchSession(id: String, time: Date) async throws -> Bool

    /// Atomically compares the presented refresh-token hash with the session's family and rotates it.
    ///
    /// `effects` are written only when the result is ``RefreshRotationResult/rotated(_:)``. When
    /// `reuseEffects` is not `nil` and the result is ``RefreshRotationResult/reused(_:)``, the session is
    /// revoked (reason `refresh_token_reused`) and `reuseEffects` written in the same transaction. Of N
    /// concurrent rotations presenting the same current token, exactly one is `.rotated`.
    func rotateRefreshToken(
        _ rotation: RefreshRotation,
        effects: StoreEffects,
        reuseEffects: StoreEffects?
    ) async throws -> RefreshRotationResult

    /// Revokes the active sessions in `scope` with `effects`; returns the ids it revoked (already revoked or
    /// expired sessions are left alone).
    func revokeSessions(
        _ scope: SessionRevocationScope,
        reason: String,
        now: Date,
        effects: StoreEffects
    ) async throws -> [String]

    /// Lists a user's active sessions, newest first, continuing after `after`.
    func activeSessions(userID: String, now: Date, after: TimeCursor?, limit: Int) async throws -> [SessionRecord]

    /// Tells whether the user has active sessions and whether one of them is from this device (same device name,
    /// platform and user agent), without reading the sessions out: Login sends its new-sign-in notice from it.
    func deviceSighting(userID: String, device: SessionDevice, now: Date) async throws -> DeviceSighting

    /// Counts active sessions of one user, or of everyone when `userID` is `nil`.
    func countActiveSessions(userID: String?, now: Date) async throws -> Int

    /// Deletes sessions that expired before `date`; returns how many.
    func deleteSessions(expiredBefore date: Date) async throws -> Int
}

/// The client a session was signed in from, as ``SessionStore/deviceSighting(userID:device:now:)`` compares it.
public struct SessionDevice: Sendable, Hashable {
    public var deviceName: String
    public var platform: String
    public var userAgent: String

    public init(deviceName: String, platform: String, userAgent: String) {
        self.deviceName = deviceName
        self.platform = platform
        self.userAgent = userAgent
    }

    /// The device of an existing session.
    public init(_ session: SessionRecord) {
        self.init(deviceName: session.deviceName, platform: session.platform, userAgent: session.userAgent)
    }
}

/// What a user's active sessions say about the device of a new sign-in.
public enum DeviceSighting: Int, Sendable, Hashable {
    /// The user has no active session.
    case noActiveSessions = 0
    /// Active sessions exist, none from this device.
    case newDevice = 1
    /// An active session is from this device.
    case knownDevice = 2
}

extension SessionStore {
    /// Rotates without side effects on reuse (the caller revokes).
    public func rotateRefreshToken(_ rotation: RefreshRotation) async throws -> RefreshRotationResult {
        try await rotateRefreshToken(rotation, effects: .none, reuseEffects: nil)
    }

    /// Revokes one session; returns whether it was active.
    @discardableResult
    public func revokeSession(
        id: String,
        reason: String,
        now: Date,
        effects: StoreEffects = .none
    ) async throws -> Bool {
        try await !revokeSessions(.session(id: id), reason: reason, now: now, effects: effects).isEmpty
    }
}
