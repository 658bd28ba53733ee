/// The durable, ordered security-event log and the commit wake-ups the event hub listens to.
///
/// Ordering contract for every backend: sequences start at 1, are strictly increasing in commit order,
/// are never reused, and a reader never sees sequence N+1 committed while N is still in flight.
/// SQLite gets this from its single writer and `AUTOINCREMENT`. PostgreSQL must serialise appenders,
/// e.g. take `pg_advisory_xact_lock(<events>)` before `nextval()` in the appending transaction (a bare
/// `BIGSERIAL` lets a later sequence commit first), and `NOTIFY` inside the transaction so every replica's
/// hub wakes after commit. MongoDB must take the sequence from a counter document inside the same
/// multi-document transaction as the change.
public protocol EventLog: Sendable {
    /// Returns up to `limit` events with a sequence greater than `sequence`, ascending, optionally of
    /// some types only.
    func events(after sequence: UInt64, types: Set<SecurityEventKind>?, limit: Int) async throws -> [EventRecord]

    /// Returns the highest committed event sequence (0 when the log is empty).
    func latestEventSequence() async throws -> UInt64

    /// Writes effects that have no state change of their own (one transaction); returns what was written.
    func commit(_ effects: StoreEffects) async throws -> CommittedEffects

    /// Returns a stream that yields after every commit that appended events or notifications.
    func commits() -> AsyncStream<StoreCommit>

    /// Like ``commits()``, but offers each commit to `absorb` first, on the thread that publishes it, in commit
    /// order; the stream yields only the commits `absorb` returns false for (see
    /// ``CommitNotifier/commits(absorbing:)``).
    func commits(absorbing absorb: @escaping @Sendable (StoreCommit) -> Bool) -> AsyncStream<StoreCommit>
}

extension EventLog {
    /// A log that cannot offer commits on its publishing thread yields them all (`absorb` is never called): the
    /// subscriber's task then looks at each one itself.
    public func commits(absorbing absorb: @escaping @Sendable (StoreCommit) -> Bool) -> AsyncStream<StoreCommit> {
        commits()
    }
}
