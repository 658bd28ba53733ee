import Synchronization

/// Fans out ``StoreCommit`` wake-ups to in-process subscribers; backends call ``publish(_:)`` after commit.
///
/// The SQLite backend publishes right after its write transaction returns. A multi-replica backend
/// (PostgreSQL) publishes from its LISTEN connection when a NOTIFY sent inside the committing
/// transaction arrives, so every replica's subscribers wake.
public final class CommitNotifier: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var continuations: [UInt64: AsyncStream<StoreCommit>.Continuation] = [:]
        var finished = false
    }

    private let state = Mutex(State())

    /// Creates a notifier with no subscribers.
    public init() {}

    /// Returns a stream of wake-ups for commits that happen after this call; it ends when the store closes.
    ///
    /// The stream buffers without bound, so consume it promptly (an event hub reads it in one task).
    public func commits() -> AsyncStream<StoreCommit> {
        let (stream, continuation) = AsyncStream<StoreCommit>.makeStream(bufferingPolicy: .unbounded)
        let id: UInt64? = state.withLock { state in
            guard !state.finished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.continuations[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Wakes every subscriber with `commit`, unless it is empty.
    public func publish(_ commit: StoreCommit) {
        guard !commit.isEmpty else { return }
        let continuations = state.withLock { Array($0.continuations.values) }
        for continuation in continuations {
            continuation.yield(commit)
        }
    }

    /// Ends every subscriber's stream; later subscriptions end at once.
    public func finish() {
        let continuations = state.withLock { state in
            state.finished = true
            defer { state.continuations.removeAll() }
            return Array(state.continuations.values)
        }
        for continuation in continuations {
            continuation.finish()
        }
    }
}
