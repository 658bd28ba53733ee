import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyStoreSQLite
import Foundation
import SwiftProtobuf
import Synchronization
import Testing

/// The in-process fan-out: replay then live without gap or duplicate, filters, bounded buffers.
@Suite("EventHub")
struct EventHubTests {
    static let time = Date(timeIntervalSince1970: 1_700_000_000)

    /// Runs `body` with a store and a running hub; stops the hub afterwards.
    func withHub(
        bufferSize: Int = 1024,
        pageSize: Int = 512,
        _ body: (SQLiteStore, EventHub) async throws -> Void
    ) async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrate()
        let hub = EventHub(log: store, bufferSize: bufferSize, pageSize: pageSize)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await hub.run() }
            try await body(store, hub)
            group.cancelAll()
        }
    }

    /// Commits `count` events (one per transaction), alternating login attempts and audit entries.
    @discardableResult
    static func commit(_ count: Int, to store: SQLiteStore, kind: SecurityEventKind? = nil) async throws -> [UInt64] {
        var sequences: [UInt64] = []
        for index in 0..<count {
            let useAudit = kind.map { $0 == .auditLog } ?? index.isMultiple(of: 2)
            let event: NewSecurityEvent
            if useAudit {
                event = NewSecurityEvent(
                    .auditLog(
                        AuditEntryRecord(action: "test", resourceType: "t", resourceID: "\(index)", time: time).api),
                    time: time
                )
            } else {
                event = NewSecurityEvent(
                    .loginAttempt(
                        LoginAttemptRecord(email: "e\(index)@x.test", ipAddress: "192.0.2.1", success: true, time: time)
                            .api),
                    time: time
                )
            }
            let committed = try await store.commit(StoreEffects(events: [event]))
            sequences.append(contentsOf: committed.events.map(\.sequence))
        }
        return sequences
    }

    /// Collects the persisted sequences of `subscription` until it delivered `last`, within a time limit.
    static func collect(
        _ subscription: EventSubscription, through last: UInt64, limit: Duration = .seconds(20)
    )
        async throws -> [UInt64]
    {
        try await withThrowingTaskGroup(of: [UInt64]?.self) { group in
            group.addTask {
                var sequences: [UInt64] = []
                for try await event in subscription where event.sequence != 0 {
                    sequences.append(event.sequence)
                    if event.sequence >= last { break }
                }
                return sequences
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let result = try await group.next() ?? nil
            group.cancelAll()
            return try #require(result, "timed out before sequence \(last)")
        }
    }

    @Test("replay after a sequence, then live events, in order")
    func replayThenLive() async throws {
        try await withHub { store, hub in
            let first = try await Self.commit(10, to: store)
            let subscription = hub.subscribe(after: first[3])
            let later = try await Self.commit(5, to: store)
            let received = try await Self.collect(subscription, through: later.last!)
            #expect(received == Array(first[4...]) + later)
        }
    }

    @Test("live-only subscriptions start at the hub's position")
    func liveOnly() async throws {
        try await withHub { store, hub in
            try await Self.commit(3, to: store)
            // Wait for the hub to have seen them, so "live" has a defined start.
            while hub.cursor != 3 { await Task.yield() }
            let subscription = hub.subscribe(after: nil)
            let later = try await Self.commit(4, to: store)
            #expect(try await Self.collect(subscription, through: later.last!) == later)
        }
    }

    @Test("with nobody attached the hub moves on without reading the log; later subscribers miss nothing")
    func unattended() async throws {
        try await withCountingHub { store, log, hub in
            let early = try await Self.commit(20, to: store)
            while hub.cursor != early.last { await Task.yield() }
            #expect(log.pageReads == 1)

            // A live-only subscriber starts after what was committed before it; a replaying one gets all of it.
            let live = hub.subscribe(after: nil)
            let replaying = hub.subscribe(after: early[4])
            let later = try await Self.commit(6, to: store)
            #expect(try await Self.collect(live, through: later.last!) == later)
            #expect(try await Self.collect(replaying, through: later.last!) == Array(early[5...]) + later)
            #expect(log.pageReads > 0)
        }
    }

    @Test("the hub does not read commits whose kinds no attached subscriber wants; nobody misses an event")
    func unwantedKindsAreNotRead() async throws {
        try await withCountingHub { store, log, hub in
            // Attached, but only for audit entries (as the IP-block watcher is, for blocks).
            let audits = hub.subscribe(after: nil, types: [.auditLog])
            let logins = try await Self.commit(12, to: store, kind: .loginAttempt)
            while hub.cursor != logins.last { await Task.yield() }
            #expect(log.pageReads == 1, "commits of login attempts only are not read")

            // A commit of a wanted kind is read and delivered; so is everything a replaying subscriber asks for.
            let replaying = hub.subscribe(after: logins[2])
            let audit = try await Self.commit(1, to: store, kind: .auditLog)
            #expect(try await Self.collect(audits, through: audit[0]) == audit)
            #expect(try await Self.collect(replaying, through: audit[0]) == Array(logins[3...]) + audit)
            #expect(log.pageReads > 1)
        }
    }

    @Test("a commit of unknown kinds is read whenever someone is attached")
    func unknownKindsAreRead() async throws {
        try await withCountingHub(forgetsKinds: true) { store, log, hub in
            let audits = hub.subscribe(after: nil, types: [.auditLog])
            let logins = try await Self.commit(3, to: store, kind: .loginAttempt)
            while hub.cursor != logins.last { await Task.yield() }
            #expect(log.pageReads > 1)
            let audit = try await Self.commit(1, to: store, kind: .auditLog)
            #expect(try await Self.collect(audits, through: audit[0]) == audit)
        }
    }

    @Test("a commit nobody attached wants is passed on the committing thread, without waking the hub's task")
    func unwantedCommitsAreAbsorbed() async throws {
        try await withCountingHub { store, log, hub in
            let audits = hub.subscribe(after: nil, types: [.auditLog])
            for _ in 0..<5 {
                let login = try await Self.commit(1, to: store, kind: .loginAttempt)
                // The writer publishes before it answers: the hub is already past the commit, with nothing queued.
                #expect(hub.cursor == login.last)
                #expect(hub.wakeUpsInFlight == 0)
            }
            #expect(log.pageReads == 1)
            let audit = try await Self.commit(1, to: store, kind: .auditLog)
            #expect(try await Self.collect(audits, through: audit[0]) == audit)
        }
    }

    @Test("a commit nobody wants waits behind a wake-up the hub is still handling; no wanted event is skipped")
    func absorptionWaitsForEarlierWakeUps() async throws {
        try await withCountingHub { store, log, hub in
            let audits = hub.subscribe(after: nil, types: [.auditLog])
            log.holdHubReads()
            let audit = try await Self.commit(1, to: store, kind: .auditLog)
            while log.heldHubReads < 1 { await Task.yield() }
            // The hub's task is reading the audit entry's page; moving the cursor past the login now would drop it.
            let login = try await Self.commit(1, to: store, kind: .loginAttempt)
            #expect(hub.cursor! < audit[0])
            #expect(hub.wakeUpsInFlight == 2)
            log.releaseHubReads()
            #expect(try await Self.collect(audits, through: audit[0]) == audit)
            while hub.cursor != login[0] || hub.wakeUpsInFlight > 0 { await Task.yield() }
            // Idle again: the next unwanted commit is passed on the committing thread.
            let next = try await Self.commit(1, to: store, kind: .loginAttempt)
            #expect(hub.cursor == next[0])
        }
    }

    @Test("a log that cannot pass commits on its publishing thread wakes the hub for each; nothing is lost")
    func logsWithoutAbsorption() async throws {
        try await withCountingHub(forgetsKinds: true) { store, _, hub in
            let audits = hub.subscribe(after: nil, types: [.auditLog])
            let sequences = try await Self.commit(4, to: store)
            #expect(try await Self.collect(audits, through: sequences[2]) == [sequences[0], sequences[2]])
            while hub.cursor != sequences.last { await Task.yield() }
            #expect(hub.wakeUpsInFlight == 0)
        }
    }

    /// Runs `body` with a store, a log over it that counts the pages read, and a running hub on that log (pages of
    /// 4) whose start-up catch-up is done; stops the hub afterwards.
    func withCountingHub(
        forgetsKinds: Bool = false, _ body: (SQLiteStore, CountingEventLog, EventHub) async throws -> Void
    ) async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrate()
        let log = CountingEventLog(store: store, forgetsKinds: forgetsKinds)
        let hub = EventHub(log: log, pageSize: 4)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await hub.run() }
            // The hub's start-up catch-up reads once.
            while log.pageReads < 1 || hub.wakeUpsInFlight > 0 { await Task.yield() }
            try await body(store, log, hub)
            group.cancelAll()
        }
    }

    @Test("a replaying subscription waits out a store outage and then delivers every event in order")
    func replaySurvivesOutage() async throws {
        try await withCountingHub { store, log, hub in
            let before = try await Self.commit(6, to: store)
            log.failFilteredReads(3)
            let subscription = hub.subscribe(after: 0, types: [.loginAttempt, .auditLog])
            let during = try await Self.commit(2, to: store)
            let received = try await Self.collect(subscription, through: during.last!)
            #expect(received == before + during)
            #expect(log.failedReads == 3)
        }
    }

    @Test("a live event is serialized once: its wire form writes the very bytes of the event")
    func wireForm() async throws {
        let record = AuditEntryRecord(
            action: "user.update", actorUserID: "u1", resourceType: "user", resourceID: "u2",
            details: ["field": "role", "ünïcode": "✓"], ipAddress: "2001:db8::1", time: Self.time
        )
        let message = Classy_Monitoring_V1_SecurityEvent.with {
            $0.sequence = 42
            $0.time = Google_Protobuf_Timestamp(date: Self.time)
            $0.auditLog = record.api
        }
        let shared = FannedEvent(message, sequence: 42, shared: true)
        let original: [UInt8] = try message.serializedBytes()
        let wire: [UInt8] = try shared.wire.serializedBytes()
        #expect(wire == original)
        #expect(try Classy_Monitoring_V1_SecurityEvent(serializedBytes: wire) == message)
        #expect(shared.message == message)
        #expect(shared.wire.sequence == 0)  // not for reading
        #expect(FannedEvent(message, sequence: 42, shared: false).wire == message)
    }

    @Test("type filters apply to replay and live events")
    func filters() async throws {
        try await withHub(pageSize: 3) { store, hub in
            let before = try await Self.commit(10, to: store)
            let subscription = hub.subscribe(after: 0, types: [.auditLog])
            let after = try await Self.commit(10, to: store)
            let audits = (before + after).enumerated().filter { $0.offset.isMultiple(of: 2) }.map(\.element)
            #expect(try await Self.collect(subscription, through: audits.last!) == audits)
        }
    }

    @Test("subscriptions starting while events are committed get every event once, in order")
    func noGapNoDuplicateUnderConcurrentCommits() async throws {
        try await withHub(pageSize: 7) { store, hub in
            try await Self.commit(50, to: store)
            let subscribers = 24
            let total: UInt64 = 50 + 400 + 1
            let subscribed = Box(0)
            let results = try await withThrowingTaskGroup(of: (UInt64?, [UInt64]).self) { group in
                group.addTask {
                    for _ in 0..<40 { try await Self.commit(10, to: store) }
                    // One more once everyone subscribed, so live-only subscribers have something to wait for.
                    while subscribed.value < subscribers { await Task.yield() }
                    try await Self.commit(1, to: store)
                    return (nil, [])
                }
                for index in 0..<subscribers {
                    group.addTask {
                        // Start at staggered moments while the committer runs.
                        for _ in 0..<(index * 3) { await Task.yield() }
                        let after: UInt64? = index.isMultiple(of: 3) ? nil : UInt64(index * 17 % 60)
                        let subscription = hub.subscribe(after: after)
                        subscribed.update { $0 += 1 }
                        return (after, try await Self.collect(subscription, through: total))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for (after, received) in results where !received.isEmpty || after != nil {
                #expect(received.last == total)
                #expect(zip(received, received.dropFirst()).allSatisfy { $1 == $0 + 1 }, "gap or duplicate")
                if let after { #expect(received.first == after + 1) }
            }
        }
    }

    @Test("a subscriber that overflows its buffer is ended with RESOURCE_EXHAUSTED; the others are unaffected")
    func overflow() async throws {
        try await withHub(bufferSize: 16) { store, hub in
            // Live-only subscriptions attach at once when the hub has a position.
            while hub.cursor == nil { await Task.yield() }
            let slow = hub.subscribe(after: nil)
            let fast = hub.subscribe(after: nil)
            let received = Box<[UInt64]>([])
            let consumer = Task {
                for try await event in fast {
                    received.update { $0.append(event.sequence) }
                    if event.sequence == 100 { break }
                }
            }
            // Commits go in steps of 8, each waiting for the fast subscriber, so only the slow one falls behind
            // however loaded the machine is.
            var sequences: [UInt64] = []
            while sequences.count < 100 {
                sequences += try await Self.commit(min(8, 100 - sequences.count), to: store)
                let deadline = ContinuousClock.now + .seconds(20)
                while received.value.count < sequences.count {
                    try #require(
                        ContinuousClock.now < deadline, "the fast subscriber stopped at \(received.value.count)")
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            try await consumer.value
            #expect(received.value == sequences)

            var slowReceived: [UInt64] = []
            do {
                for try await event in slow { slowReceived.append(event.sequence) }
                Issue.record("the slow subscriber was not ended")
            } catch let error as ClassyError {
                #expect(error.code == .streamOverflow)
                #expect(error.code.status == .resourceExhausted)
            }
            // It got what fitted in its buffer, in order, and can resume from its last sequence.
            #expect(slowReceived == Array(sequences.prefix(16)))
            let resumed = hub.subscribe(after: slowReceived.last)
            #expect(try await Self.collect(resumed, through: 100) == Array(sequences.dropFirst(16)))
        }
    }

    @Test("finishing the hub ends every subscription normally; later ones end at once")
    func finish() async throws {
        try await withHub { store, hub in
            let subscription = hub.subscribe(after: 0)
            try await Self.commit(2, to: store)
            hub.finish()
            var count = 0
            for try await _ in subscription { count += 1 }
            #expect(count <= 2)
            var late = 0
            for try await _ in hub.subscribe(after: 0) { late += 1 }
            #expect(late == 0)
            #expect(hub.subscriberCount == 0)
        }
    }

    @Test("injected messages reach only their subscriber; ended subscriptions are removed")
    func injectAndRemove() async throws {
        try await withHub { _, hub in
            let a = hub.subscribe(after: nil, types: [])
            let b = hub.subscribe(after: nil)
            a.inject(.with { $0.heartbeat = .init() })
            a.cancel()
            var messages: [Classy_Monitoring_V1_SecurityEvent] = []
            for try await message in a { messages.append(message) }
            #expect(messages.count == 1)
            #expect(messages.first?.sequence == 0)
            b.cancel()
            for try await _ in b {}
            #expect(hub.subscriberCount == 0)
        }
    }
}

/// A value shared by test tasks.
final class Box<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) { storage = Mutex(value) }

    var value: Value { storage.withLock { $0 } }

    func update(_ change: (inout Value) -> Void) { storage.withLock { change(&$0) } }
}

/// Forwards to a store and counts the pages of events read from it; optionally drops the event kinds from its
/// wake-ups, as a replica that does not send them would, and fails filtered reads as an unreachable store does.
final class CountingEventLog: EventLog {
    let store: SQLiteStore
    let forgetsKinds: Bool
    private let reads = Mutex(0)
    /// Filtered page reads still to fail, and how many failed.
    private let outage = Mutex((pending: 0, failed: 0))

    init(store: SQLiteStore, forgetsKinds: Bool = false) {
        self.store = store
        self.forgetsKinds = forgetsKinds
    }

    var pageReads: Int { reads.withLock { $0 } }

    /// How many filtered page reads failed.
    var failedReads: Int { outage.withLock { $0.failed } }

    /// Makes the next `count` page reads with a type filter (subscribers', never the hub's) throw UNAVAILABLE.
    func failFilteredReads(_ count: Int) {
        outage.withLock { $0.pending = count }
    }

    /// Whether unfiltered reads (the hub's) wait, and the reads waiting.
    private let gate = Mutex((held: false, waiting: [CheckedContinuation<Void, Never>]()))

    /// Makes the hub's reads wait until ``releaseHubReads()``.
    func holdHubReads() {
        gate.withLock { $0.held = true }
    }

    /// Lets the waiting and later hub reads go.
    func releaseHubReads() {
        let waiting = gate.withLock { gate in
            gate.held = false
            defer { gate.waiting.removeAll() }
            return gate.waiting
        }
        for read in waiting { read.resume() }
    }

    /// How many hub reads are waiting.
    var heldHubReads: Int { gate.withLock { $0.waiting.count } }

    func events(after sequence: UInt64, types: Set<SecurityEventKind>?, limit: Int) async throws -> [EventRecord] {
        if types == nil {
            await withCheckedContinuation { (read: CheckedContinuation<Void, Never>) in
                let waits = gate.withLock { gate in
                    if gate.held { gate.waiting.append(read) }
                    return gate.held
                }
                if !waits { read.resume() }
            }
        }
        reads.withLock { $0 += 1 }
        if types != nil {
            let fails = outage.withLock { outage -> Bool in
                guard outage.pending > 0 else { return false }
                outage.pending -= 1
                outage.failed += 1
                return true
            }
            if fails { throw StoreError.unavailable("the store is unavailable (test outage)") }
        }
        return try await store.events(after: sequence, types: types, limit: limit)
    }

    func latestEventSequence() async throws -> UInt64 { try await store.latestEventSequence() }

    func commit(_ effects: StoreEffects) async throws -> CommittedEffects { try await store.commit(effects) }

    /// Passes commits on the writer as the store does, unless it forgets their kinds (it then yields every one).
    func commits(absorbing absorb: @escaping @Sendable (StoreCommit) -> Bool) -> AsyncStream<StoreCommit> {
        forgetsKinds ? commits() : store.commits(absorbing: absorb)
    }

    func commits() -> AsyncStream<StoreCommit> {
        guard forgetsKinds else { return store.commits() }
        let upstream = store.commits()
        let (stream, continuation) = AsyncStream<StoreCommit>.makeStream()
        let task = Task {
            for await var commit in upstream {
                commit.eventKinds = nil
                continuation.yield(commit)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
