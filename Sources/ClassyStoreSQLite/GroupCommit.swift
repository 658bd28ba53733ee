import ClassyStore
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
///
/// A write may instead ask to become durable ``Durability/withNextDurableCommit``: a group made only of such
/// writes commits with `synchronous=NORMAL`, without the `fsync` (in WAL mode the frames are written to the log
/// file, so a crash of the process loses nothing; only a power cut or an OS crash can). The log is appended in
/// order, so the `fsync` of the next durable commit makes them durable too.
///
/// Writes made with ``write(durability:announcing:)`` return a ``StoreCommit`` wake-up, which the writer
/// publishes right after the group commits and before anyone is answered: wake-ups go out in commit order,
/// which lets an event hub move past a commit it has no subscriber for without reading it.
final class GroupCommit: Sendable {
    /// When a write's changes must be on disk.
    enum Durability: Sendable {
        /// Before the caller is answered (`synchronous=FULL`).
        case immediate
        /// With the next durable commit, which follows soon: for bookkeeping whose outcome is always recorded
        /// durably before anyone is answered (such as the attempt counted before a password check).
        case withNextDurableCommit
    }

    /// What to tell a write's caller once its group committed (`nil`) or failed.
    private typealias Reply = @Sendable ((any Error)?) -> Void

    /// How a write went inside the group's transaction.
    private struct Outcome {
        /// Tells the caller.
        var reply: Reply
        /// The write threw (its changes are rolled back).
        var failed: Bool
        /// The wake-up to publish once the group committed.
        var wakeUp: StoreCommit?
    }

    /// A queued write.
    private struct Operation: Sendable {
        /// Runs the write inside the group's transaction, in a savepoint of its own when `isolated`.
        var run: @Sendable (_ db: Database, _ isolated: Bool) -> Outcome
        /// Answers the caller with an error without running the write (the group could not begin).
        var fail: @Sendable (any Error) -> Void
        var durability: Durability
    }

    private struct State {
        var queue: [Operation] = []
        var draining = false
        /// Whether the writer connection commits without an `fsync` now (`synchronous=NORMAL`).
        var relaxed = false
    }

    private let writer: any DatabaseWriter
    private let notifier: CommitNotifier
    private let state = Mutex(State())

    init(writer: any DatabaseWriter, notifier: CommitNotifier = CommitNotifier()) {
        self.writer = writer
        self.notifier = notifier
    }

    /// Runs `body` in a savepoint of the next group transaction; returns its value once that commit is durable
    /// (or, with ``Durability/withNextDurableCommit``, once it is committed).
    func write<T: Sendable>(
        durability: Durability = .immediate, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await submit(durability: durability) { db in (try body(db), nil) }
    }

    /// Like ``write(durability:_:)``; the wake-up `body` returns is published once the group committed, in
    /// commit order, before the caller is answered.
    func write<T: Sendable>(
        durability: Durability = .immediate, announcing body: @escaping @Sendable (Database) throws -> (T, StoreCommit)
    ) async throws -> T {
        try await submit(durability: durability) { db in try body(db) }
    }

    private func submit<T: Sendable>(
        durability: Durability, _ body: @escaping @Sendable (Database) throws -> (T, StoreCommit?)
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let run: @Sendable (Database, Bool) -> Outcome = { db, isolated in
                do {
                    let (value, wakeUp) = isolated ? try db.inSavepointReturning(body) : try body(db)
                    let reply: Reply = { commitError in
                        if let commitError {
                            continuation.resume(throwing: commitError)
                        } else {
                            continuation.resume(returning: value)
                        }
                    }
                    return Outcome(reply: reply, failed: false, wakeUp: wakeUp)
                } catch {
                    return Outcome(reply: { _ in continuation.resume(throwing: error) }, failed: true)
                }
            }
            enqueue(Operation(run: run, fail: { continuation.resume(throwing: $0) }, durability: durability))
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
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(batch.count)
            do {
                try setRelaxed(batch.allSatisfy { $0.durability == .withNextDurableCommit }, db)
                try inImmediateTransaction(db) {
                    if batch.count == 1 {
                        // Alone in the transaction a write needs no savepoint (for which SQLite first copies every
                        // page the write changes to a statement journal): if it throws, the transaction rolls back.
                        let outcome = batch[0].run(db, false)
                        outcomes.append(outcome)
                        return outcome.failed ? .rollback : .commit
                    }
                    for operation in batch {
                        // SQLite rolls a transaction back by itself on some errors (disk full, I/O, out of memory):
                        // the next write must not run outside it, where its savepoint would commit on its own.
                        try Self.checkTransactionLive(db)
                        outcomes.append(operation.run(db, true))
                    }
                    return .commit
                }
                for outcome in outcomes where !outcome.failed {
                    if let wakeUp = outcome.wakeUp { notifier.publish(wakeUp) }
                }
                for outcome in outcomes { outcome.reply(nil) }
            } catch {
                // The commit failed (every write ran and is rolled back), or BEGIN did (none ran).
                for outcome in outcomes { outcome.reply(error) }
                for operation in batch.dropFirst(outcomes.count) { operation.fail(error) }
            }
        }
    }
}

extension GroupCommit {
    /// Runs `body` between `BEGIN IMMEDIATE` and `COMMIT` (or `ROLLBACK`), as GRDB's `inTransaction` does, but with
    /// both statements prepared once for the connection: `inTransaction` prepares them anew for every transaction,
    /// and the writer runs two transactions per sign-in.
    private func inImmediateTransaction(_ db: Database, _ body: () throws -> Database.TransactionCompletion) throws {
        try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
        do {
            switch try body() {
            case .commit:
                try Self.checkTransactionLive(db)
                try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
            case .rollback:
                try db.rollback()
            }
        } catch {
            // As `inTransaction`: roll back (a no-op when SQLite already did, or the commit went through) and
            // report the first error.
            try? db.rollback()
            throw error
        }
    }

    /// Throws `SQLITE_ABORT` when SQLite rolled the group's transaction back by itself after an error.
    fileprivate static func checkTransactionLive(_ db: Database) throws {
        guard db.isInsideTransaction else {
            throw DatabaseError(resultCode: .SQLITE_ABORT, message: "the transaction was rolled back after an error")
        }
    }

    /// How many writes wait for the next group (for tests).
    var queuedWrites: Int { state.withLock { $0.queue.count } }

    /// Whether the last group committed without an `fsync` (for tests).
    var lastGroupRelaxed: Bool { state.withLock { $0.relaxed } }

    /// Switches the writer connection between commits with and without an `fsync` (outside any transaction).
    private func setRelaxed(_ relaxed: Bool, _ db: Database) throws {
        guard state.withLock({ $0.relaxed }) != relaxed else { return }
        try db.cachedStatement(sql: relaxed ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL").execute()
        state.withLock { $0.relaxed = relaxed }
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
