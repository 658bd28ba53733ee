import ClassyStore
import ClassyStoreConformance
import ClassyStorePostgres
import ClassyTesting
import Foundation
import Logging
import Testing

/// Runs the store conformance suite, unchanged, against PostgreSQL: one throwaway server for the process and a
/// fresh database per store. Skipped (with the reason) when the PostgreSQL 15 binaries are not installed.
@Suite("PostgreSQL store conformance", .enabled(if: PostgresTestServer.isAvailable, "\(PostgresTestServer.skipReason)"))
struct PostgresConformanceTests {
    /// Opens a started, migrated store on a fresh database of the shared test server.
    static func makeStore() async throws -> any ClassyStoreProtocol {
        let server = try PostgresTestServer.shared()
        var configuration = try PostgresStoreConfiguration(url: try server.createDatabase())
        configuration.poolSize = 4
        // Generous: dozens of stores share one server and two cores; outages are tested in FaultTests.
        configuration.queryTimeout = .seconds(60)
        let store = PostgresStore(configuration: configuration, logger: Logger(label: "classy.store.postgres.tests"))
        await store.start()
        do {
            try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    static func run(_ check: (@escaping StoreFactory) async throws -> Void) async throws {
        try await check { try await makeStore() }
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

/// Says loudly when the PostgreSQL tests of this target did not run.
@Suite("PostgreSQL availability")
struct PostgresAvailabilityTests {
    @Test func reportsWhetherPostgresTestsRun() {
        if let reason = PostgresTestServer.unavailableReason {
            print("warning: \(reason)")
            withKnownIssue("PostgreSQL tests are skipped on this machine: \(reason)") {
                Issue.record(Comment(rawValue: reason))
            }
        }
    }
}
