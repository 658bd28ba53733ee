import ClassyAPI
import ClassyCore
import Logging
import SwiftProtobuf
import Synchronization

/// The in-process fan-out of committed security events to stream subscribers.
///
/// The events table is the source of truth: the hub is woken by ``EventLog/commits(absorbing:)``, reads the rows
/// after its own cursor and hands each one, decoded once into its wire form, to every attached subscriber whose filter it
/// matches. A wake-up is only a hint, so a coalesced or missed one loses nothing; the next read catches up.
///
/// A subscription replays the persisted events after its `after` sequence straight from the store (pulled by
/// the consumer, so a long replay needs no buffer), then attaches to the hub at the sequence it reached. It
/// attaches only if the hub has not fanned out anything past that sequence yet, and otherwise reads further, so
/// the switch from replay to live has no gap; the hub hands an attached subscriber only sequences above its
/// attach point, so there is no duplicate either.
///
/// Each attached subscriber has a bounded buffer. A subscriber that lets it fill up is ended with
/// RESOURCE_EXHAUSTED / STREAM_OVERFLOW after the events already buffered (it resumes from the last sequence it
/// received); the hub never waits for it, so the others are unaffected.
///
/// ```swift
/// let hub = EventHub(log: store)
/// // in a task of the service group:
/// try await hub.run()
/// // per stream:
/// let subscription = hub.subscribe(after: 41, types: [.loginAttempt])
/// for try await event in subscription { try await writer.write(event) }
/// ```
public final class EventHub: Sendable {
    private struct Subscriber {
        var types: Set<SecurityEventKind>?
        /// Sequences up to here are not this subscriber's business (replayed, or before it attached).
        var cursor: UInt64
        var queue: SubscriberQueue
    }

    private struct State {
        /// The highest sequence fanned out; nil until the hub (or a first subscriber) reads where the log is.
        var cursor: UInt64?
        var nextID: UInt64 = 0
        /// Registered subscriptions that are still replaying.
        var pending: [UInt64: SubscriberQueue] = [:]
        /// Attached subscriptions, served by the fan-out.
        var attached: [UInt64: Subscriber] = [:]
        var finished = false
        /// Wake-ups handed to ``run()``'s task that it has not finished with yet, plus one while it catches up at
        /// start: the publishing thread may move past a commit itself only when this is zero.
        var wakeUpsInFlight = 0
    }

    /// The outcome of trying to attach a replaying subscription.
    enum Attachment {
        /// Attached: live events from here on.
        case attached
        /// The hub already fanned out events past the subscription's position: read further first.
        case behind
        /// The hub was finished (or the subscription ended): no more events.
        case finished
    }

    let log: any EventLog
    /// The capacity of each subscriber's buffer, in events.
    public let bufferSize: Int
    /// How many events one store read returns (hub catch-up and subscriber replay).
    public let pageSize: Int
    /// The shortest time between two fan-out rounds: events committed meanwhile go out together, so each
    /// subscriber is woken and written to once per round instead of once per event.
    public let coalescing: Duration
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a hub over an event log; it does nothing until ``run()``.
    ///
    /// - Parameters:
    ///   - log: the store's event log.
    ///   - bufferSize: how many events a subscriber may fall behind before it is ended.
    ///   - pageSize: how many events one store read returns.
    ///   - coalescing: the shortest time between two fan-out rounds (zero: a round per commit).
    ///   - logger: where read failures are logged.
    public init(
        log: any EventLog,
        bufferSize: Int = 1024,
        pageSize: Int = 512,
        coalescing: Duration = .zero,
        logger: Logger = Logger(label: "classy.store.event-hub")
    ) {
        self.log = log
        self.bufferSize = max(1, bufferSize)
        self.pageSize = max(1, pageSize)
        self.coalescing = max(.zero, coalescing)
        self.logger = logger
    }

    /// Fans out committed events until the commit stream ends (the store closed) or the task is cancelled, then
    /// ends every subscription.
    ///
    /// A commit that needs no read (nobody attached wants its kinds) is passed on the thread that publishes it, when
    /// no earlier wake-up is still waiting for this task, so the task is not woken for it (see ``absorb(_:)``).
    public func run() async throws {
        state.withLock { $0.wakeUpsInFlight += 1 }
        let commits = log.commits(absorbing: { [weak self] commit in self?.absorb(commit) ?? false })
        defer { finish() }
        try await catchUpRetrying()
        state.withLock { $0.wakeUpsInFlight -= 1 }
        for await commit in commits {
            // A log that does not offer its commits to `absorb` yields them uncounted: the count stays at zero.
            defer { state.withLock { $0.wakeUpsInFlight = max(0, $0.wakeUpsInFlight - 1) } }
            guard let last = commit.lastEventSequence else { continue }
            if let cursor = state.withLock({ $0.cursor }), cursor >= last { continue }
            if advanceUnwanted(to: last, kinds: commit.eventKinds) { continue }
            try await catchUpRetrying()
            // The first event after a quiet spell goes out at once; a busy log is fanned out in rounds, each
            // subscriber getting everything committed during the pause in one batch.
            if coalescing > .zero { try await Task.sleep(for: coalescing) }
        }
    }

    /// Called by the log for each commit, in commit order, on the thread that publishes it: returns true when the
    /// hub is done with the commit without its task (the stream then does not yield it).
    ///
    /// That is so for a commit that appended no event, and for one whose kinds nobody attached wants
    /// (``advanceUnwanted(to:kinds:)``) while the task has no wake-up in hand or queued and is not catching up:
    /// the task would then take this commit next, from the same state, and decide the same. With an earlier
    /// wake-up still pending, moving the cursor here could skip events that wake-up must fan out, so the commit
    /// goes to the task, in order, behind it.
    private func absorb(_ commit: StoreCommit) -> Bool {
        guard let last = commit.lastEventSequence else { return true }
        return state.withLock { state in
            if state.wakeUpsInFlight == 0, Self.advanceUnwanted(to: last, kinds: commit.eventKinds, in: &state) {
                return true
            }
            state.wakeUpsInFlight += 1
            return false
        }
    }

    /// Reads where the log ends, so that live-only subscriptions made from now on attach at once (call it at
    /// start, before serving; ``run()`` does it too).
    public func prime() async throws {
        guard state.withLock({ $0.cursor }) == nil else { return }
        let latest = try await log.latestEventSequence()
        state.withLock { state in
            if state.cursor == nil { state.cursor = latest }
        }
    }

    /// Subscribes to events with a sequence greater than `after` (nil: live only, from the hub's current position)
    /// of the given kinds (nil: all; empty: none, for a subscriber that only wants ``EventSubscription/inject(_:)``-ed
    /// messages).
    public func subscribe(after: UInt64?, types: Set<SecurityEventKind>? = nil) -> EventSubscription {
        let queue = SubscriberQueue(capacity: bufferSize)
        enum Start { case finished, live(UInt64), replay }
        let (id, start): (UInt64, Start) = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            if state.finished { return (id, .finished) }
            if after == nil, let cursor = state.cursor {
                state.attached[id] = Subscriber(types: types, cursor: cursor, queue: queue)
                return (id, .live(cursor))
            }
            state.pending[id] = queue
            return (id, .replay)
        }
        let phase: EventSubscription.Phase
        switch start {
        case .finished:
            queue.finish()
            phase = .live
        case .live:
            phase = .live
        case .replay:
            phase = after.map { .replay(after: $0) } ?? .start
        }
        return EventSubscription(hub: self, id: id, types: types, phase: phase, queue: queue)
    }

    /// Ends every subscription normally (server shutdown); later subscriptions end at once.
    public func finish() {
        let queues = state.withLock { state in
            state.finished = true
            let all = Array(state.pending.values) + state.attached.values.map(\.queue)
            state.pending.removeAll()
            state.attached.removeAll()
            return all
        }
        for queue in queues { queue.finish() }
    }

    /// The highest sequence fanned out so far (nil before the hub read where the log is).
    public var cursor: UInt64? { state.withLock { $0.cursor } }

    /// How many subscriptions are registered (replaying or live).
    public var subscriberCount: Int { state.withLock { $0.pending.count + $0.attached.count } }

    /// The wake-ups ``run()``'s task has yet to finish with (plus one during its start-up catch-up); zero when the
    /// hub is idle.
    public var wakeUpsInFlight: Int { state.withLock { $0.wakeUpsInFlight } }

    // MARK: - Fan-out

    private func catchUpRetrying() async throws {
        try await retryingReads("event hub could not read the event log", while: { _ in true }) {
            try await catchUp()
        }
    }

    /// Runs `read` of the log until it succeeds, pausing after each failure that `retries` accepts (50 ms, then
    /// twice as long each time, up to 2 s) and logging it with `message`. Cancellation and any error `retries`
    /// refuses end it with that error.
    func retryingReads<T>(
        _ message: Logger.Message, while retries: (any Error) -> Bool, _ read: () async throws -> T
    ) async throws -> T {
        var delay = Duration.milliseconds(50)
        while true {
            do {
                return try await read()
            } catch {
                try Task.checkCancellation()
                guard retries(error) else { throw error }
                logger.warning(message, metadata: ["error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// When no attached subscriber wants any of `kinds` (`nil`: unknown, so anyone might), there is nothing to fan
    /// out: moves the cursor to `sequence` without reading the log and returns true (false otherwise, or before the
    /// hub knows where the log is).
    ///
    /// This is sound because wake-ups arrive in commit order (every backend announces them so) and sequences
    /// commit in order: when the hub takes this commit, every earlier event was either read or, by this same rule,
    /// wanted by nobody attached at the time; a subscriber attached later did not want it either, since it attached
    /// only after reading the log up to the hub's cursor itself. Live-only subscriptions made from now on start
    /// after `sequence`, which was committed before them; replaying ones read the log up to the cursor themselves
    /// before they attach.
    private func advanceUnwanted(to sequence: UInt64, kinds: Set<SecurityEventKind>?) -> Bool {
        state.withLock { state in Self.advanceUnwanted(to: sequence, kinds: kinds, in: &state) }
    }

    private static func advanceUnwanted(
        to sequence: UInt64, kinds: Set<SecurityEventKind>?, in state: inout State
    ) -> Bool {
        guard let cursor = state.cursor else { return false }
        let wanted = state.attached.values.contains { subscriber in
            guard let kinds else { return true }
            guard let types = subscriber.types else { return !kinds.isEmpty }
            return !types.isDisjoint(with: kinds)
        }
        guard !wanted else { return false }
        state.cursor = max(cursor, sequence)
        return true
    }

    /// Reads and fans out every event after the hub's cursor.
    private func catchUp() async throws {
        try await prime()
        while true {
            guard let from = state.withLock({ $0.cursor }) else { return }
            let page = try await log.events(after: from, types: nil, limit: pageSize)
            for record in page {
                deliver(FannedEvent(record.api, sequence: record.sequence, shared: true), kind: record.kind)
            }
            if page.count < pageSize { return }
        }
    }

    private func deliver(_ event: FannedEvent, kind: SecurityEventKind) {
        let sequence = event.sequence
        let (overflowed, woken): ([SubscriberQueue], [CheckedContinuation<Void, Never>]) =
            state.withLock { state in
                guard let cursor = state.cursor, sequence > cursor else { return ([], []) }
                state.cursor = sequence
                var overflowed: [SubscriberQueue] = []
                var woken: [CheckedContinuation<Void, Never>] = []
                // A subscriber's cursor only matters right after it attached (ahead of the hub); sequences rise.
                for (id, subscriber) in state.attached where sequence > subscriber.cursor {
                    if let types = subscriber.types, !types.contains(kind) { continue }
                    switch subscriber.queue.push(event) {
                    case .enqueued(let waiter):
                        if let waiter { woken.append(waiter) }
                    case .overflowed:
                        state.attached[id] = nil
                        overflowed.append(subscriber.queue)
                    case .ended:
                        state.attached[id] = nil
                    }
                }
                return (overflowed, woken)
            }
        // Consumers resume outside the hub's lock.
        for waiter in woken { waiter.resume() }
        for queue in overflowed {
            queue.finish(throwing: Self.overflowError(bufferSize: bufferSize))
        }
    }

    static func overflowError(bufferSize: Int) -> ClassyError {
        ClassyError(
            .streamOverflow,
            "the subscriber fell more than \(bufferSize) events behind: resubscribe with after_sequence set to the "
                + "last sequence received"
        )
    }

    // MARK: - Subscriptions

    /// Attaches a replaying subscription that has delivered everything up to `position`.
    func attach(_ id: UInt64, at position: UInt64, types: Set<SecurityEventKind>?) -> Attachment {
        state.withLock { state in
            guard !state.finished, let queue = state.pending[id] else { return .finished }
            if state.cursor == nil {
                // Nothing was fanned out yet: the hub starts from here, so this subscriber misses nothing.
                state.cursor = position
            }
            guard let cursor = state.cursor, cursor <= position else { return .behind }
            state.pending[id] = nil
            state.attached[id] = Subscriber(types: types, cursor: position, queue: queue)
            return .attached
        }
    }

    func remove(_ id: UInt64) {
        state.withLock { state in
            state.pending[id] = nil
            state.attached[id] = nil
        }
    }
}

/// One subscriber's events: the replay from the store, then the live events of the ``EventHub``, in sequence
/// order without gap or duplicate, interleaved with any messages ``inject(_:)``-ed (heartbeats, metrics).
///
/// Iterate it from one task, event by event or, cheaper for a writer, batch by batch with
/// ``Iterator/nextBatch()``. It ends normally when the hub finishes or ``cancel()`` is called, and throws
/// RESOURCE_EXHAUSTED / STREAM_OVERFLOW (after the events already buffered) when this subscriber fell too far
/// behind.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = Classy_Monitoring_V1_SecurityEvent
    public typealias Failure = any Error

    enum Phase: Sendable {
        /// Live only, but the hub had no position yet: start from the log's latest sequence.
        case start
        /// Replaying events after this sequence.
        case replay(after: UInt64)
        /// Attached to the hub.
        case live
    }

    let hub: EventHub
    let id: UInt64
    let types: Set<SecurityEventKind>?
    let phase: Phase
    let queue: SubscriberQueue

    /// Adds a message that is not part of the log (a heartbeat or a metrics snapshot) to this subscriber's
    /// buffer; it is dropped if the buffer is full.
    public func inject(_ message: Classy_Monitoring_V1_SecurityEvent) {
        if case .enqueued(let waiter) = queue.push(FannedEvent(message, sequence: 0, shared: false)) {
            waiter?.resume()
        }
    }

    /// Ends the subscription (its iterator returns nil after what is buffered) and leaves the hub.
    public func cancel() {
        queue.finish()
        hub.remove(id)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: self, phase: phase)
    }

    /// Iterates a subscription.
    public struct Iterator: AsyncIteratorProtocol {
        let subscription: EventSubscription
        var phase: Phase
        var pending: [FannedEvent] = []
        var pendingIndex = 0
        /// The highest persisted sequence handed out.
        var lastSequence: UInt64 = 0

        public mutating func next() async throws -> Classy_Monitoring_V1_SecurityEvent? {
            while pendingIndex >= pending.count {
                guard let batch = try await nextBatch() else { return nil }
                pending = batch
                pendingIndex = 0
            }
            defer { pendingIndex += 1 }
            return pending[pendingIndex].message
        }

        /// Returns every event available now (at least one; waits for it), or nil at the end. Write their
        /// ``FannedEvent/wire`` forms to a client.
        public mutating func nextBatch() async throws -> [FannedEvent]? {
            if pendingIndex < pending.count {
                defer {
                    pending = []
                    pendingIndex = 0
                }
                return Array(pending[pendingIndex...])
            }
            while true {
                switch phase {
                case .start:
                    let latest = try await retryingOutages { try await $0.subscription.hub.log.latestEventSequence() }
                    lastSequence = latest
                    phase = .replay(after: latest)
                case .replay(let after):
                    // replayPage changes the iterator only once its reads succeeded, so a failed try leaves it as is.
                    let page = try await retryingOutages { try await $0.replayPage(after: after) }
                    if !page.isEmpty { return page }
                case .live:
                    guard let batch = try await subscription.queue.next() else { return nil }
                    let fresh = batch.filter { event in
                        guard event.sequence != 0 else { return true }
                        guard event.sequence > lastSequence else { return false }
                        lastSequence = event.sequence
                        return true
                    }
                    if !fresh.isEmpty { return fresh }
                }
            }
        }

        /// Runs a read of the log, retrying while the store is unavailable as the hub does for live subscribers: a
        /// stream that is replaying survives a store outage as a live one does. Cancellation and the end of the
        /// subscription stop the retries; any other error is thrown at once.
        private mutating func retryingOutages<T>(_ read: (inout Iterator) async throws -> T) async throws -> T {
            let queue = subscription.queue
            return try await subscription.hub.retryingReads(
                "event stream could not read the event log",
                while: { error in (error as? StoreError)?.code == .unavailable && !queue.isFinished }
            ) { try await read(&self) }
        }

        /// Reads one page after `after`; attaches to the hub when the page reaches the end of the log.
        private mutating func replayPage(after: UInt64) async throws -> [FannedEvent] {
            let hub = subscription.hub
            // Read the log's end first: every matching event up to it is in the page read next.
            let latest = try await hub.log.latestEventSequence()
            let page: [EventRecord]
            if let types = subscription.types, types.isEmpty {
                page = []
            } else {
                page = try await hub.log.events(after: after, types: subscription.types, limit: hub.pageSize)
            }
            if let last = page.last { lastSequence = Swift.max(lastSequence, last.sequence) }
            var position = page.last?.sequence ?? after
            guard page.count < hub.pageSize else {
                phase = .replay(after: position)
                return page.map { FannedEvent($0.api, sequence: $0.sequence, shared: false) }
            }
            position = Swift.max(position, latest)
            switch hub.attach(subscription.id, at: position, types: subscription.types) {
            case .attached:
                lastSequence = Swift.max(lastSequence, position)
                phase = .live
            case .behind:
                phase = .replay(after: position)
            case .finished:
                // Deliver what was read, then end (the queue was finished by the hub).
                phase = .live
            }
            return page.map { FannedEvent($0.api, sequence: $0.sequence, shared: false) }
        }
    }
}

/// A subscriber's bounded buffer: the hub pushes without ever waiting, the subscriber takes everything buffered
/// at once.
/// A message as the hub hands it to subscribers: decoded, and ready for the wire.
///
/// A live event goes to every subscriber as the same instance, so buffering it costs a retain; its ``wire`` form
/// is serialized once, for all of them.
public final class FannedEvent: Sendable {
    /// The event's sequence in the log (0: not part of the log, such as a heartbeat).
    public let sequence: UInt64
    /// The message.
    public let message: Classy_Monitoring_V1_SecurityEvent
    /// The same message for a client: when shared by a fan-out, an empty message that carries the serialized
    /// event as unknown fields, which SwiftProtobuf writes back byte for byte. Only for writing; read
    /// ``message``.
    public let wire: Classy_Monitoring_V1_SecurityEvent

    /// Wraps `message`; `shared` serializes it once now for the subscribers of a fan-out round.
    public init(_ message: Classy_Monitoring_V1_SecurityEvent, sequence: UInt64, shared: Bool) {
        self.sequence = sequence
        self.message = message
        self.wire = shared ? Self.preEncoded(message) : message
    }

    /// `message` serialized, carried by an otherwise empty message (or `message` itself if that fails).
    static func preEncoded(_ message: Classy_Monitoring_V1_SecurityEvent) -> Classy_Monitoring_V1_SecurityEvent {
        do {
            let bytes: [UInt8] = try message.serializedBytes()
            // Decoding into a message without fields keeps every field as unknown, exactly as it was on the wire.
            let fields = try Google_Protobuf_Empty(serializedBytes: bytes).unknownFields
            var carrier = Classy_Monitoring_V1_SecurityEvent()
            carrier.unknownFields = fields
            return carrier
        } catch {
            return message
        }
    }
}

final class SubscriberQueue: Sendable {
    /// The outcome of a push.
    enum Push {
        /// Buffered; resume the waiting consumer, if any, once outside every lock.
        case enqueued(CheckedContinuation<Void, Never>?)
        /// The buffer was full: the message was not buffered.
        case overflowed
        /// The subscription has ended.
        case ended
    }

    private struct State {
        var buffer: [FannedEvent] = []
        var waiter: CheckedContinuation<Void, Never>?
        /// Set once ended: nil error for a normal end.
        var end: (any Error)??
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    func push(_ message: FannedEvent) -> Push {
        state.withLock { state in
            guard state.end == nil else { return .ended }
            guard state.buffer.count < capacity else { return .overflowed }
            state.buffer.append(message)
            defer { state.waiter = nil }
            return .enqueued(state.waiter)
        }
    }

    /// Whether the queue has ended (normally or with an error).
    var isFinished: Bool { state.withLock { $0.end != nil } }

    /// Ends the queue after what is buffered, normally or with `error`.
    func finish(throwing error: (any Error)? = nil) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            if state.end == nil { state.end = .some(error) }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Everything buffered (waiting for at least one message), or nil once ended and drained. Cancelling the
    /// waiting task ends the queue.
    func next() async throws -> [FannedEvent]? {
        while true {
            enum Step {
                case batch([FannedEvent])
                case end((any Error)?)
                case wait
            }
            let step: Step = state.withLock { state in
                if !state.buffer.isEmpty {
                    defer { state.buffer.removeAll(keepingCapacity: true) }
                    return .batch(state.buffer)
                }
                if let end = state.end { return .end(end) }
                return .wait
            }
            switch step {
            case .batch(let batch): return batch
            case .end(let error?): throw error
            case .end(nil): return nil
            case .wait:
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let ready = state.withLock { state in
                            if !state.buffer.isEmpty || state.end != nil { return true }
                            state.waiter = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    finish()
                }
            }
        }
    }
}
