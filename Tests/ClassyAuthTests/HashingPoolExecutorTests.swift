import ClassyAuth
import ClassyCore
import Dispatch
import Foundation
import Synchronization
import Testing

@Suite("Hashing pool as a task executor")
struct HashingPoolExecutorTests {
    @Test("a task preferring the pool runs every step on the pool's thread")
    func stepsRunOnThePool() async throws {
        let pool = PasswordHashingPool(threadCount: 1)
        defer { pool.shutdown() }
        let poolThread = try await pool.run { pthread_self() }
        let threads = await withTaskExecutorPreference(pool) { () async -> [pthread_t] in
            var seen = [pthread_self()]
            try? await Task.sleep(for: .milliseconds(2))
            seen.append(pthread_self())
            _ = try? await pool.run { 0 }
            seen.append(pthread_self())
            return seen
        }
        #expect(threads.count == 3)
        #expect(threads.allSatisfy { pthread_equal($0, poolThread) != 0 })
    }

    @Test("the pool's threads carry its label, as the system shows them, cut to Linux's 15 bytes")
    func threadNames() async throws {
        @Sendable func currentName() -> String {
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .newlines)
        }
        let pool = PasswordHashingPool(threadCount: 1, label: "test-hash")
        defer { pool.shutdown() }
        #expect(try await pool.run { currentName() } == "test-hash-0")
        let long = PasswordHashingPool(threadCount: 1, label: "a-much-longer-pool-label")
        defer { long.shutdown() }
        #expect(try await long.run { currentName() } == "a-much-longer-p")
    }

    @Test("the hasher's handlers prefer its pool; a hasher without one leaves tasks where they are")
    func hasherExecutor() async throws {
        let pool = PasswordHashingPool(threadCount: 1)
        defer { pool.shutdown() }
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2, pool: pool)
        let poolThread = try await pool.run { pthread_self() }
        let (thread, verified) = try await hasher.withHashingExecutor {
            let phc = try await hasher.hash("correct horse battery staple")
            let verified = try await hasher.verify("correct horse battery staple", against: phc)
            return (pthread_self(), verified)
        }
        #expect(verified)
        #expect(pthread_equal(thread, poolThread) != 0)
        #expect(PlainHasher().taskExecutor == nil)
        #expect(await PlainHasher().withHashingExecutor { 7 } == 7)
    }

    @Test("task steps run before hashing jobs queued ahead of them")
    func stepsGoFirst() async throws {
        let pool = PasswordHashingPool(threadCount: 1)
        defer { pool.shutdown() }
        let order = OrderLog()
        let gate = DispatchSemaphore(value: 0)
        async let blocker: Void = pool.run {
            gate.wait()
            order.append("blocker")
        }
        try await waitUntil { pool.load.runningThreads == 1 && pool.load.jobs == 0 }
        async let hashes: Void = withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<2 {
                group.addTask { try await pool.run { order.append("job \(index)") } }
            }
            try await group.waitForAll()
        }
        try await waitUntil { pool.load.jobs == 2 }
        let step = Task(executorPreference: pool) { order.append("step") }
        try await waitUntil { pool.load.steps == 1 }
        gate.signal()
        await step.value
        try await blocker
        try await hashes
        let recorded = order.entries
        #expect(recorded.count == 4)
        #expect(recorded.prefix(2) == ["blocker", "step"])
        #expect(Set(recorded.suffix(2)) == ["job 0", "job 1"])
    }

    @Test("a step that arrives after shutdown still runs, before and after the threads exit")
    func stepsAfterShutdown() async throws {
        let pool = PasswordHashingPool(threadCount: 1)
        #expect(try await pool.run { 1 } == 1)
        pool.shutdown()
        await #expect(throws: PasswordHasherError.poolShutDown) { try await pool.run { 0 } }
        let early = await Task(executorPreference: pool) { 41 + 1 }.value
        #expect(early == 42)
        try await waitUntil { pool.load.runningThreads == 0 }
        let late = await Task(executorPreference: pool) { () async -> Int in
            await Task.yield()
            return 43
        }.value
        #expect(late == 43)

        let neverStarted = PasswordHashingPool(threadCount: 1)
        neverStarted.shutdown()
        #expect(await Task(executorPreference: neverStarted) { 44 }.value == 44)
    }
}

/// What ran, in order.
private final class OrderLog: Sendable {
    private let state = Mutex<[String]>([])

    var entries: [String] { state.withLock { $0 } }

    func append(_ entry: String) { state.withLock { $0.append(entry) } }
}

/// A hasher with no executor of its own (the protocol's default).
private struct PlainHasher: PasswordHasher {
    func hash(_ password: String) async throws -> String { password }
    func verify(_ password: String, against phc: String) async throws -> Bool { password == phc }
    func needsRehash(_ phc: String) -> Bool { false }
    func verifyDummy(password: String) async {}
}

/// Polls `condition` every millisecond for up to a minute (the whole suite runs in parallel, and at its start
/// the cooperative pool can be busy for seconds), recording an issue at the caller if it never holds.
private func waitUntil(
    _ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within 60 s", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}
