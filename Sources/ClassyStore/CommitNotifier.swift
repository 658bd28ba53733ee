import Synchronization

/// Fans out ``StoreCommit`` wake-ups to in-process subscribers; backends call ``publish(_:)`` after commit.
///
/// The SQLite backend publishes right after its write transaction returns. A multi-replica backend
/// (PostgreSQL) publishes from its LISTEN connection when a NOTIFY sent inside the committing
/// transaction arrives, so every replica's subscribers wake.
public final class CommitNotifier: Sendable {
    /// A subscriber's stream and what it handles on the publishing thread.
    private struct Subscriber {
        var continuation: AsyncStream<StoreCommit>.Continuation
        var absorb: (@Sendable (StoreCommit) -> Bool)?
    }

    private struct State {
        var nextID: UInt64 = 0
        var subscribers: [UInt64: Subscriber] = [:]
        var finished = false
    }

    private let state = Mutex(State())

    /// Creates a notifier with no subscribers.
    public init() {}

    /// Returns a stream of wake-ups for commits that happen after this call; it ends when the store closes.
    ///
    /// The stream buffers without bound, so consume it promptly (an event hub reads it in one task).
    public func commits() -> AsyncStream<StoreCommit> {
        subscribe(absorb: nil)
    }

    /// Like ``commits()``, but each commit is first offered to `absorb`, on the publishing thread, in commit order;
    /// the stream yields only the commits it returns false for.
    ///
    /// A subscriber that can tell at once that a commit needs nothing from it (an event hub with nobody attached
    /// for the commit's kinds) so moves past it without a wake-up of its task. `absorb` runs while the backend
    /// publishes (the SQLite writer, PostgreSQL's LISTEN connection): keep it short, and never block in it.
    public func commits(absorbing absorb: @escaping @Sendable (StoreCommit) -> Bool) -> AsyncStream<StoreCommit> {
        subscribe(absorb: absorb)
    }

    private func subscribe(absorb: (@Sendable (StoreCommit) -> Bool)?) -> AsyncStream<StoreCommit> {
        let (stream, continuation) = AsyncStream<StoreCommit>.makeStream(bufferingPolicy: .unbounded)
        let id: UInt64? = state.withLock { state in
            guard !state.finished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = Subscriber(continuation: continuation, absorb: absorb)
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Wakes every subscriber with `commit` (unless its absorb handler took it), unless it is empty.
    ///
    /// Backends call it for one commit at a time, in commit order.
    public func publish(_ commit: StoreCommit) {
        guard !commit.isEmpty else { return }
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers {
            if let absorb = subscriber.absorb, absorb(commit) { continue }
            subscriber.continuation.yield(commit)
        }
    }

    /// Ends every subscriber's stream; later subscriptions end at once.
    public func finish() {
        let continuations = state.withLock { state in
            state.finished = true
            defer { state.subscribers.removeAll() }
            return state.subscribers.values.map(\.continuation)
        }
        for continuation in continuations {
            continuation.finish()
        }
    }
}
