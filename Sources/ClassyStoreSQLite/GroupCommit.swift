import GRDB
import Synchronization

/// Commits the write transactions of concurrent callers together, so they share one `fsync`.
///
/// SQLite has one writer, and with `synchronous=FULL` every commit waits for the disk: on its own each write
/// pays a full sync. Callers that arrive while a commit is in progress queue up; the writer then runs all of
/// them in one transaction, each inside its own savepoint, and commits once. A caller that throws rolls back its
/// savepoint alone; the others commit. Nobody is answered before the commit that holds their changes is
/// durable, so what a caller sees is exactly what a transaction of its own would have given it, in the order
/// the writes were queued.
final class GroupCommit: Sendable {
    /// What to tell a write's caller once its group committed (`nil`) or failed.
    private typealias Reply = @Sendable ((any Error)?) -> Void

    /// A queued write.
    private struct Operation: Sendable {
        /// Runs the write inside the group's transaction; returns its reply.
        var run: @Sendable (Database) -> Reply
        /// Answers the caller with an error without running the write (the group could not begin).
        var fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var queue: [Operation] = []
        var draining = false
    }

    private let writer: any DatabaseWriter
    private let state = Mutex(State())

    init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    /// Runs `body` in a savepoint of the next group transaction; returns its value once that commit is durable.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let run: @Sendable (Database) -> Reply = { db in
                do {
                    let value = try db.inSavepointReturning(body)
                    return { commitError in
                        if let commitError {
                            continuation.resume(throwing: commitError)
                        } else {
                            continuation.resume(returning: value)
                        }
                    }
                } catch {
                    return { _ in continuation.resume(throwing: error) }
                }
            }
            enqueue(Operation(run: run, fail: { continuation.resume(throwing: $0) }))
        }
    }

    private func enqueue(_ operation: Operation) {
        let start = state.withLock { state in
            state.queue.append(operation)
            defer { state.draining = true }
            return !state.draining
        }
        if start {
            writer.asyncWriteWithoutTransaction { db in self.drain(db) }
        }
    }

    /// Commits queued writes, group by group, until the queue is empty (on GRDB's writer queue).
    private func drain(_ db: Database) {
        while true {
            let batch = state.withLock { state in
                defer { state.queue.removeAll(keepingCapacity: true) }
                if state.queue.isEmpty { state.draining = false }
                return state.queue
            }
            guard !batch.isEmpty else { return }
            var replies: [Reply] = []
            replies.reserveCapacity(batch.count)
            do {
                try db.inTransaction(.immediate) {
                    for operation in batch { replies.append(operation.run(db)) }
                    return .commit
                }
                for reply in replies { reply(nil) }
            } catch {
                // The commit failed (every write ran and is rolled back), or BEGIN did (none ran).
                for reply in replies { reply(error) }
                for operation in batch.dropFirst(replies.count) { operation.fail(error) }
            }
        }
    }
}

extension Database {
    /// Runs `body` in a savepoint and returns its value; a thrown error rolls the savepoint back.
    fileprivate func inSavepointReturning<T>(_ body: (Database) throws -> T) throws -> T {
        var value: T?
        try inSavepoint {
            value = try body(self)
            return .commit
        }
        return value!
    }
}
