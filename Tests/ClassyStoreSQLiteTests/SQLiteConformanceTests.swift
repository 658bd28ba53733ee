import ClassyStore
import ClassyStoreConformance
import ClassyStoreSQLite
import Foundation
import Logging
import Testing

/// Runs the store conformance suite against SQLite files in a temporary directory.
@Suite("SQLite store conformance (file)")
struct SQLiteConformanceTests {
    /// Runs `check` with a factory of fresh, migrated file databases, then deletes the files.
    static func run(_ check: (@escaping StoreFactory) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await check {
            let store = try SQLiteStore(
                path: directory.path("classy-\(UUID().uuidString.lowercased()).sqlite"),
                logger: Logger(label: "classy.store.sqlite.tests")
            )
            try await store.migrate()
            return store
        }
    }

    @Test func lifecycle() async throws { try await Self.run(StoreConformance.lifecycle) }
    @Test func users() async throws { try await Self.run(StoreConformance.users) }
    @Test func usersConcurrentCreate() async throws { try await Self.run(StoreConformance.usersConcurrentCreate) }
    @Test func usersConcurrentETagUpdate() async throws {
        try await Self.run(StoreConformance.usersConcurrentETagUpdate)
    }
    @Test func userChangeFeed() async throws { try await Self.run(StoreConformance.userChangeFeed) }
    @Test func userListing() async throws { try await Self.run(StoreConformance.userListing) }
    @Test func sessions() async throws { try await Self.run(StoreConformance.sessions) }
    @Test func refreshRotation() async throws { try await Self.run(StoreConformance.refreshRotation) }
    @Test func refreshRotationConcurrent() async throws {
        try await Self.run(StoreConformance.refreshRotationConcurrent)
    }
    @Test func failureCounters() async throws { try await Self.run(StoreConformance.failureCounters) }
    @Test func failureCountersConcurrent() async throws {
        try await Self.run(StoreConformance.failureCountersConcurrent)
    }
    @Test func successfulLogin() async throws { try await Self.run(StoreConformance.successfulLogin) }
    @Test func accountLocks() async throws { try await Self.run(StoreConformance.accountLocks) }
    @Test func ipBlocks() async throws { try await Self.run(StoreConformance.ipBlocks) }
    @Test func loginAttempts() async throws { try await Self.run(StoreConformance.loginAttempts) }
    @Test func securityMetrics() async throws { try await Self.run(StoreConformance.securityMetrics) }
    @Test func events() async throws { try await Self.run(StoreConformance.events) }
    @Test func transactionalEffects() async throws { try await Self.run(StoreConformance.transactionalEffects) }
    @Test func eventsConcurrentAppend() async throws { try await Self.run(StoreConformance.eventsConcurrentAppend) }
    @Test func commitWakeUps() async throws { try await Self.run(StoreConformance.commitWakeUps) }
    @Test func auditLogs() async throws { try await Self.run(StoreConformance.auditLogs) }
    @Test func notifications() async throws { try await Self.run(StoreConformance.notifications) }
    @Test func idempotency() async throws { try await Self.run(StoreConformance.idempotency) }
    @Test func idempotencyConcurrent() async throws { try await Self.run(StoreConformance.idempotencyConcurrent) }
    @Test func serviceAccounts() async throws { try await Self.run(StoreConformance.serviceAccounts) }
    @Test func signingKeys() async throws { try await Self.run(StoreConformance.signingKeys) }

    @Test func everyCheckHasATest() {
        // Keeps this file in step with the suite: one @Test above per check.
        #expect(StoreConformance.checks.count == 26)
    }
}

/// Runs every conformance check against the in-memory (`sqlite::memory:`) variant.
@Suite("SQLite store conformance (in-memory)")
struct SQLiteInMemoryConformanceTests {
    @Test(arguments: StoreConformance.checks)
    func check(_ check: StoreConformance.Check) async throws {
        try await check.run {
            let store = try SQLiteStore.inMemory(logger: Logger(label: "classy.store.sqlite.tests"))
            try await store.migrate()
            return store
        }
    }
}
