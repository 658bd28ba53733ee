import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore
import Logging
import Synchronization

/// The open WatchNotifications streams of a service, so that shutdown can end them all.
final class NotificationWatchers: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var stops: [UInt64: @Sendable () -> Void] = [:]
        var finished = false
    }

    private let state = Mutex(State())

    /// Registers a stream's stop action; nil (nothing registered) once shutdown has begun.
    func register(_ stop: @escaping @Sendable () -> Void) -> UInt64? {
        state.withLock { state in
            guard !state.finished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.stops[id] = stop
            return id
        }
    }

    /// Forgets a stream that ended.
    func unregister(_ id: UInt64) {
        _ = state.withLock { $0.stops.removeValue(forKey: id) }
    }

    /// Stops every open stream; later streams end as soon as they start.
    func finishAll() {
        let stops = state.withLock { state in
            state.finished = true
            defer { state.stops.removeAll() }
            return Array(state.stops.values)
        }
        for stop in stops { stop() }
    }

    /// How many streams are open.
    var count: Int { state.withLock { $0.stops.count } }
}

/// One WatchNotifications stream: replay after a cursor, then live delivery, without gap or duplicate.
///
/// Live delivery never trusts the wake-up's content: on each commit that notified the caller, it
/// re-reads the store after its own cursor. It subscribes to commits *before* it reads the start
/// position, so a notification committed at any moment is either in that read or followed by a
/// wake-up; and since every read starts after the last cursor written, nothing is sent twice.
struct NotificationWatch: Sendable {
    /// What wakes the stream's loop.
    enum Signal: Sendable {
        /// A commit created notifications for the caller.
        case notified
        /// Time for a heartbeat.
        case heartbeat
        /// The client cancelled, the server is shutting down, or the store closed.
        case stop
    }

    let store: any ClassyStoreProtocol
    let clock: any WallClock
    let caller: Caller
    let heartbeatInterval: Duration
    let logger: Logger

    /// How many notifications one store read returns.
    static let batchSize = 200

    /// The heartbeat message: kind UNSPECIFIED, empty id and cursor (see users.proto).
    static let heartbeat = Classy_Users_V1_Notification()

    /// Streams until the client cancels, `watchers` finish, the store closes, or the caller's session ends
    /// (then it throws SESSION_REVOKED).
    ///
    /// - Parameter after: the cursor to replay after; nil for new notifications only.
    func run(
        after: Int64?,
        writer: RPCWriter<Classy_Users_V1_Notification>,
        cancellation: ServerContext.RPCCancellationHandle,
        watchers: NotificationWatchers
    ) async throws {
        let (signals, signal) = AsyncStream<Signal>.makeStream()
        defer { signal.finish() }
        guard let registration = watchers.register({ signal.yield(.stop) }) else { return }
        defer { watchers.unregister(registration) }

        let commits = store.commits()
        var cursor: Int64
        if let after {
            cursor = after
        } else {
            cursor = try await store.latestNotificationCursor(userID: caller.userID)
        }
        logger.debug("notification stream opened", metadata: ["user_id": "\(caller.userID)", "after": "\(cursor)"])

        let userID = caller.userID
        let interval = heartbeatInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await commit in commits where commit.notifiedUserIDs.contains(userID) {
                    signal.yield(.notified)
                }
                // The commit stream ends only when the store closes: nothing more can arrive.
                signal.yield(.stop)
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: interval)
                    signal.yield(.heartbeat)
                }
            }
            group.addTask {
                // gRPC signals a client's cancellation through this handle, not by cancelling the task.
                try await cancellation.cancelled
                signal.yield(.stop)
            }

            cursor = try await deliver(after: cursor, to: writer)
            loop: for await next in signals {
                switch next {
                case .notified:
                    cursor = try await deliver(after: cursor, to: writer)
                    try await checkSession()
                case .heartbeat:
                    try await writer.write(Self.heartbeat)
                    try await checkSession()
                case .stop:
                    break loop
                }
            }
            group.cancelAll()
        }
        logger.debug("notification stream closed", metadata: ["user_id": "\(caller.userID)", "cursor": "\(cursor)"])
    }

    /// Writes every notification after `cursor`, oldest first; returns the new cursor.
    private func deliver(
        after cursor: Int64,
        to writer: RPCWriter<Classy_Users_V1_Notification>
    ) async throws -> Int64 {
        var cursor = cursor
        while true {
            let batch = try await store.notifications(userID: caller.userID, after: cursor, limit: Self.batchSize)
            guard let last = batch.last else { return cursor }
            try await writer.write(contentsOf: batch.map(\.api))
            cursor = last.cursor
            if batch.count < Self.batchSize { return cursor }
        }
    }

    /// Ends the stream once the caller's session is revoked or expired or the account is deactivated or
    /// deleted: a stream is one long RPC, and it must not outlive the rights it was opened with.
    private func checkSession() async throws {
        guard let sessionID = caller.sessionID else { return }
        let now = clock.now()
        guard let session = try await store.session(id: sessionID), session.revokedTime == nil,
            session.expireTime > now,
            let user = try await store.user(id: caller.userID), user.isActive, !user.deleted
        else {
            throw ClassyError(.sessionRevoked, "the session of this stream was revoked")
        }
    }
}
