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
}
