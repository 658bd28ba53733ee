/// A complete storage backend: every store concern plus its lifecycle.
///
/// Open a backend, call ``migrate()`` once at start, share it (it is `Sendable`), and ``close()`` it at
/// shutdown. Every backend passes the `ClassyStoreConformance` suite.
public protocol ClassyStoreProtocol: UserStore, SessionStore, SecurityStore, AuditStore, EventLog,
    NotificationStore, IdempotencyStore, ServiceAccountStore, SigningKeyStore
{
    /// Applies pending schema migrations; safe to call on every start.
    func migrate() async throws

    /// Closes the backend and ends every ``EventLog/commits()`` stream; later calls throw
    /// ``StoreError/Code/unavailable``.
    func close() async throws

    /// The session ever issued the refresh token with this hash, and its user (deleted users included), or nil.
    ///
    /// Refresh reads both; a backend that can read them together (one snapshot, one round trip) does.
    func sessionWithUser(refreshHash: String) async throws -> (session: SessionRecord, user: UserRecord?)?
}

extension ClassyStoreProtocol {
    public func sessionWithUser(refreshHash: String) async throws -> (session: SessionRecord, user: UserRecord?)? {
        guard let session = try await session(refreshHash: refreshHash) else { return nil }
        return (session, try await user(id: session.userID))
    }
}
