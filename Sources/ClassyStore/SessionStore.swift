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

    /// Counts active sessions of one user, or of everyone when `userID` is `nil`.
    func countActiveSessions(userID: String?, now: Date) async throws -> Int

    /// Deletes sessions that expired before `date`; returns how many.
    func deleteSessions(expiredBefore date: Date) async throws -> Int
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
