import ClassyCore
import ClassyStore
import Foundation
import GRDB
import Logging
import Synchronization

/// The embedded default store backend: one SQLite file in WAL mode, accessed through GRDB.
///
/// ```swift
/// let store = try SQLiteStore(path: "./classy-data/classy.sqlite", logger: logger)
/// try await store.migrate()
/// for await commit in store.commits() { ... }   // wake-ups after committed appends
/// ```
///
/// Files are opened with a `DatabasePool` (concurrent readers, one writer, WAL, `synchronous=FULL`,
/// foreign keys on, busy timeout); ``inMemory(logger:)`` uses a `DatabaseQueue`. Every mutation and the
/// ``StoreEffects`` it carries commit in one write transaction; because SQLite has a single writer, event
/// sequences and notification cursors are assigned in commit order without gaps.
public final class SQLiteStore: ClassyStoreProtocol {
    /// How long a connection waits for a lock held by another process before failing.
    static let busyTimeout: TimeInterval = 10

    let writer: any DatabaseWriter
    /// Every write transaction goes through it, so concurrent writes share a commit.
    let groupCommit: GroupCommit
    /// Sessions and users as authentication last read them, dropped by the commits that change them.
    let sessionCache = SessionCache()
    /// Account locks and IP block state as admission last read them, dropped by the commits that change them.
    let securityCache = SecurityStateCache()
    let logger: Logger
    let notifier: CommitNotifier
    /// Set by ``close()``; GRDB connections must not be touched once closed.
    private let isClosed = Mutex(false)
    /// The database file path, or `:memory:`.
    public let location: String

    /// Opens (creating if needed, with its parent directories) the SQLite database file at `path`.
    public init(path: String, logger: Logger = Logger(label: "classy.store.sqlite")) throws {
        self.logger = logger
        self.location = path
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let pool = try DatabasePool(path: path, configuration: Self.configuration())
            // DatabasePool switches the writer to synchronous=NORMAL with WAL; security state wants
            // every commit durable, so the single writer connection goes back to FULL.
            try pool.writeWithoutTransaction { db in
                try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
                // Statement journals (a savepoint per write of a commit group) stay in memory instead of a temp file.
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
            }
            self.writer = pool
            let notifier = CommitNotifier()
            self.notifier = notifier
            self.groupCommit = GroupCommit(writer: pool, notifier: notifier)
            pool.add(transactionObserver: sessionCache, extent: .observerLifetime)
            pool.add(transactionObserver: securityCache, extent: .observerLifetime)
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    private init(writer: any DatabaseWriter, location: String, logger: Logger) {
        self.writer = writer
        let notifier = CommitNotifier()
        self.notifier = notifier
        self.groupCommit = GroupCommit(writer: writer, notifier: notifier)
        self.location = location
        self.logger = logger
        writer.add(transactionObserver: sessionCache, extent: .observerLifetime)
        writer.add(transactionObserver: securityCache, extent: .observerLifetime)
    }

    /// Opens a private in-memory database (`sqlite::memory:`), gone when the store is released.
    public static func inMemory(logger: Logger = Logger(label: "classy.store.sqlite")) throws -> SQLiteStore {
        do {
            let queue = try DatabaseQueue(configuration: configuration())
            return SQLiteStore(writer: queue, location: ":memory:", logger: logger)
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    private static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "classy.store"
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            try db.cachedStatement(sql: "PRAGMA foreign_keys = ON").execute()
        }
        return configuration
    }

    /// Applies pending versioned migrations (see ``SQLiteSchema``).
    public func migrate() async throws {
        try checkOpen()
        do {
            let migrator = SQLiteSchema.migrator()
            let applied = try await writer.read { db in try migrator.appliedIdentifiers(db) }
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Runs on GRDB's writer queue behind a barrier, off the cooperative thread pool.
                migrator.asyncMigrate(writer) { result in
                    continuation.resume(with: result.map { _ in })
                }
            }
            let pending = SQLiteSchema.migrationIdentifiers.filter { !applied.contains($0) }
            if !pending.isEmpty {
                logger.info("applied store migrations", metadata: ["migrations": "\(pending)", "path": "\(location)"])
            }
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    /// Returns the identifiers of the migrations applied to this database, in order.
    public func appliedMigrations() async throws -> [String] {
        try await read { db in
            let applied = try SQLiteSchema.migrator().appliedIdentifiers(db)
            return SQLiteSchema.migrationIdentifiers.filter { applied.contains($0) }
        }
    }

    /// Ends every commit stream and closes the database connections.
    public func close() async throws {
        let wasClosed = isClosed.withLock { closed in
            defer { closed = true }
            return closed
        }
        notifier.finish()
        guard !wasClosed else { return }
        do {
            try writer.close()
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    /// Returns a stream that yields after every commit that appended events or notifications.
    public func commits() -> AsyncStream<StoreCommit> {
        notifier.commits()
    }

    /// Like ``commits()``; `absorb` sees each commit first, on the thread that publishes it.
    public func commits(absorbing absorb: @escaping @Sendable (StoreCommit) -> Bool) -> AsyncStream<StoreCommit> {
        notifier.commits(absorbing: absorb)
    }

    // MARK: - Access helpers

    /// Runs `body` in a read transaction (a consistent snapshot) on the calling thread, mapping errors to
    /// ``StoreError``.
    ///
    /// For point lookups and other short, indexed reads: in WAL mode a reader never waits for the writer, so the
    /// read is a few microseconds of CPU, and running it here saves two thread hand-offs (to a GRDB queue and
    /// back), which under load cost more than the read. Scans and listings use ``readDetached(_:)``.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try onCaller { try Self.readOnCaller(writer, body) }
    }

    /// Runs `body`, which executes exactly one SQL statement, on the calling thread without an explicit
    /// transaction: the statement is atomic on its own (SQLite gives it an implicit read transaction), so this
    /// skips the BEGIN and COMMIT that ``read(_:)`` spends on a snapshot for several statements.
    func readStatement<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try onCaller { try Self.readStatementOnCaller(writer, body) }
    }

    /// Runs a read on the calling thread once the store is known to be open, mapping errors to ``StoreError``.
    private func onCaller<T>(_ read: () throws -> T) throws -> T {
        try checkOpen()
        do {
            return try read()
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    /// Runs `body` in a read transaction on one of GRDB's reader queues, off the cooperative thread pool: for
    /// reads whose cost grows with the data (listings, counts, metrics, event replay).
    func readDetached<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try checkOpen()
        do {
            return try await writer.read(body)
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    /// Runs `body` in a write transaction, then writes the effects it returns in the same transaction and
    /// wakes commit subscribers once it has committed (in commit order, before returning).
    func write<T: Sendable>(
        durability: GroupCommit.Durability = .immediate,
        _ body: @escaping @Sendable (Database) throws -> (T, StoreEffects)
    ) async throws -> T {
        try checkOpen()
        do {
            return try await groupCommit.write(
                durability: durability,
                announcing: { db in
                    let (value, effects) = try body(db)
                    let committed = try EffectsWriter.insert(effects, in: db)
                    return (value, committed.wakeUp)
                })
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    private static func readOnCaller<T>(_ writer: any DatabaseWriter, _ body: (Database) throws -> T) throws -> T {
        try writer.read(body)
    }

    private static func readStatementOnCaller<T>(
        _ writer: any DatabaseWriter, _ body: (Database) throws -> T
    ) throws -> T {
        try writer.unsafeRead(body)
    }

    /// Throws ``StoreError/Code/unavailable`` once the store is closed.
    func checkOpen() throws {
        if isClosed.withLock({ $0 }) {
            throw StoreError.unavailable("the store is closed")
        }
    }

    /// Runs `body` in a write transaction together with `effects`.
    func write<T: Sendable>(
        effects: StoreEffects,
        durability: GroupCommit.Durability = .immediate,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await write(durability: durability) { db in (try body(db), effects) }
    }
}
