import ClassyCore
import ClassyStore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The multi-replica store backend: PostgreSQL through a `PostgresClient` pool, with commit wake-ups fanned out
/// to every replica by LISTEN/NOTIFY.
///
/// ```swift
/// let store = PostgresStore(configuration: try PostgresStoreConfiguration(url: url), logger: logger)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await store.run() }       // or a ServiceGroup; or `await store.start()`
///     try await store.migrate()
///     ...
/// }
/// ```
///
/// Every mutation and the ``StoreEffects`` it carries commit in one transaction, which also sends
/// `NOTIFY classy_commits` with the wake-up; each replica's dedicated LISTEN connection turns it into a
/// ``StoreCommit`` for its event hub, which then reads the committed rows. Event sequences, notification cursors
/// and the user change sequence come from single-row counters (`store_counters`) updated inside the committing
/// transaction: the row lock serialises appenders until commit, so sequences become visible in order and a
/// reader never sees N+1 before N. Failure counters and other read-modify-write upserts take a transaction-level
/// advisory lock on their key.
///
/// Every operation is bounded by ``PostgresStoreConfiguration/queryTimeout`` (connection lease included); when
/// PostgreSQL is unreachable operations fail with ``StoreError/Code/unavailable`` and the pool and the listener
/// reconnect on their own once it is back.
public final class PostgresStore: ClassyStoreProtocol, Service {
    /// The NOTIFY channel carrying commit wake-ups.
    static let commitChannel = "classy_commits"

    /// Where it connects and its limits.
    public let configuration: PostgresStoreConfiguration
    let client: PostgresClient
    let logger: Logger
    let notifier = CommitNotifier()
    private let state = Mutex(LifecycleState())
    /// Signalled once the first LISTEN attempt finished (established or failed).
    private let listenerReady = ReadySignal()

    private struct LifecycleState {
        var closed = false
        var running = false
        var runner: Task<Void, Never>?
    }

    /// Creates the store and its pool; nothing connects until ``run()`` (or ``start()``).
    public init(configuration: PostgresStoreConfiguration, logger: Logger = Logger(label: "classy.store.postgres")) {
        self.configuration = configuration
        self.logger = logger
        // The pool logs every failed connection attempt (several a second during an outage) at info: keep its
        // errors only, unless debugging; the store logs one warning per operation that could not be served.
        var poolLogger = logger
        if poolLogger.logLevel > .debug { poolLogger.logLevel = .error }
        self.client = PostgresClient(
            configuration: Self.clientConfiguration(configuration),
            backgroundLogger: poolLogger
        )
    }

    static func clientConfiguration(_ configuration: PostgresStoreConfiguration) -> PostgresClient.Configuration {
        var client = PostgresClient.Configuration(
            host: configuration.host,
            port: configuration.port,
            username: configuration.username,
            password: configuration.password,
            database: configuration.database,
            tls: clientTLS(configuration.tls)
        )
        // One more than the pool size: the commit listener holds one connection for as long as it listens.
        client.options.maximumConnections = max(1, configuration.poolSize) + 1
        client.options.minimumConnections = 0
        client.options.connectTimeout = configuration.connectTimeout
        client.options.keepAliveBehavior = .init(frequency: .seconds(30))
        client.options.additionalStartupParameters = [
            ("statement_timeout", "\(max(1, configuration.queryTimeout.milliseconds))"),
            ("application_name", "classy-server"),
        ]
        return client
    }

    private static func clientTLS(_ mode: PostgresStoreConfiguration.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    // MARK: - Lifecycle

    /// Runs the connection pool and the LISTEN connection until cancelled or the store is closed (a `Service`).
    public func run() async throws {
        let alreadyRunning = state.withLock { state in
            defer { state.running = true }
            return state.running || state.closed
        }
        guard !alreadyRunning else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.listen() }
            // Runs until cancelled (``close()``); not on graceful shutdown, since draining RPCs still need the pool.
            await group.next()
            group.cancelAll()
        }
    }

    /// Runs ``run()`` in a task owned by the store (ended by ``close()``), for callers that need the store before
    /// their `ServiceGroup` starts (the server migrates and seeds before serving); returns once the commit listener
    /// has connected or failed its first attempt.
    public func start() async {
        let started = state.withLock { state -> Bool in
            guard state.runner == nil, !state.running, !state.closed else { return false }
            state.runner = Task { try? await self.run() }
            return true
        }
        guard started else { return }
        let ready = listenerReady
        let patience = configuration.connectTimeout + .seconds(1)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await ready.wait() }
            group.addTask {
                // An unreachable server must not hold start-up: the first operation reports it instead.
                if (try? await Task.sleep(for: patience)) != nil { ready.signal() }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Ends commit streams, stops the listener and closes the pool; later calls throw `unavailable`.
    public func close() async throws {
        let runner = state.withLock { state -> Task<Void, Never>? in
            state.closed = true
            defer { state.runner = nil }
            return state.runner
        }
        notifier.finish()
        listenerReady.signal()
        if let runner {
            runner.cancel()
            // Bounded, so a server always exits: connections still busy after this are dropped with the process.
            do {
                try await withDeadline(.seconds(5)) { await runner.value }
            } catch {
                logger.warning("the PostgreSQL pool did not shut down in time; closing anyway")
            }
        }
    }

    /// Returns a stream that yields after every commit (on any replica) that appended events or notifications.
    public func commits() -> AsyncStream<StoreCommit> {
        notifier.commits()
    }

    /// Like ``commits()``; `absorb` sees each commit first, on the thread that publishes it.
    public func commits(absorbing absorb: @escaping @Sendable (StoreCommit) -> Bool) -> AsyncStream<StoreCommit> {
        notifier.commits(absorbing: absorb)
    }

    /// Throws ``StoreError/Code/unavailable`` once the store is closed.
    func checkOpen() throws {
        if state.withLock({ $0.closed }) {
            throw StoreError.unavailable("the store is closed")
        }
    }

    // MARK: - LISTEN/NOTIFY

    /// Keeps one dedicated connection listening on ``commitChannel``, reconnecting with backoff; after every
    /// reconnect it wakes the hub so that events committed while it was away are read.
    private func listen() async {
        var backoff: Duration = .milliseconds(100)
        var connectedBefore = false
        while !Task.isCancelled, !state.withLock({ $0.closed }) {
            do {
                // A pooled connection leased for as long as it listens: LISTEN state is per connection.
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.commitChannel) { notifications in
                        try await withTaskCancellationHandler {
                            backoff = .milliseconds(100)
                            if connectedBefore {
                                logger.notice("commit listener reconnected")
                                if let latest = try? await latestEventSequence() {
                                    notifier.publish(StoreCommit(lastEventSequence: latest, notifiedUserIDs: []))
                                }
                            }
                            connectedBefore = true
                            listenerReady.signal()
                            for try await notification in notifications {
                                for commit in CommitPayload.decode(notification.payload) {
                                    notifier.publish(commit)
                                }
                            }
                        } onCancel: {
                            // The notification sequence does not end on cancellation; closing the connection ends
                            // it, returns the lease, and lets the pool shut down (``close()``).
                            let closing: EventLoopFuture<Void> = connection.close()
                            _ = closing
                        }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning(
                    "commit listener lost its connection; retrying",
                    metadata: ["error": "\(String(reflecting: error).prefix(300))", "retry_in": "\(backoff)"]
                )
            }
            listenerReady.signal()
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    // MARK: - Access helpers

    /// Runs `body` on a pooled connection within the query timeout, mapping errors to ``StoreError``.
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try checkOpen()
        let client = self.client
        return try await bounded {
            try await client.withConnection { connection in try await body(connection) }
        }
    }

    /// Runs `body` in a transaction, then writes the effects it returns and the NOTIFY of their wake-up in the
    /// same transaction.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> (T, StoreEffects)
    ) async throws -> T {
        try await writeReturningEffects(body).0
    }

    /// Like ``write(_:)``, also returning the committed effects.
    func writeReturningEffects<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> (T, StoreEffects)
    ) async throws -> (T, CommittedEffects) {
        try checkOpen()
        let client = self.client
        let logger = self.logger
        return try await bounded {
            try await client.withTransaction(logger: logger) { connection in
                let (value, effects) = try await body(connection)
                let written = try await EffectsWriter.insert(effects, on: connection, logger: logger)
                for payload in CommitPayload.encode(written.wakeUp) {
                    try await connection.exec("SELECT pg_notify(\(Self.commitChannel), \(payload))")
                }
                return (value, written.committed)
            }
        }
    }

    /// Runs `body` in a transaction together with `effects`.
    func write<T: Sendable>(
        effects: StoreEffects,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await write { connection in (try await body(connection), effects) }
    }

    /// Runs `operation` within the query timeout; a late operation is cancelled and answered with `unavailable`
    /// at the deadline even if the driver does not notice the cancellation.
    private func bounded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = configuration.queryTimeout
        let configuration = self.configuration
        let logger = self.logger
        do {
            return try await withDeadline(timeout, operation)
        } catch is DeadlineExceeded {
            logger.warning("PostgreSQL did not answer in time", metadata: ["timeout": "\(timeout)"])
            throw StoreError.unavailable(
                "PostgreSQL at \(configuration.host):\(configuration.port) did not answer within \(timeout) "
                    + "(unreachable, or the query timeout is too short)"
            )
        } catch {
            throw PostgresErrorMapping.map(error, logger: logger)
        }
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// A one-shot signal many tasks can wait for.
final class ReadySignal: Sendable {
    private struct State {
        var signalled = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Wakes every waiter, now and later.
    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.signalled else { return [] }
            state.signalled = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once ``signal()`` was called.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.signalled { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
