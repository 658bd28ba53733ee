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
        let server = try await PostgresTestServer.shared()
        var configuration = try PostgresStoreConfiguration(url: try await server.createDatabase())
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

    @Test("migrations drop the session index no query uses")
    func unusedSessionIndexIsDropped() async throws {
        let server = try await PostgresTestServer.shared()
        let url = try await server.createDatabase()
        let database = try #require(url.split(separator: "/").last.map { String($0.split(separator: "?")[0]) })
        let store = PostgresStore(
            configuration: try PostgresStoreConfiguration(url: url),
            logger: Logger(label: "classy.store.postgres.tests"))
        await store.start()
        try await store.migrate()
        try await store.close()
        // psql stops with an error (and the call throws) if the index is still there, or if the check is wrong.
        try await server.psql(
            """
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'sessions_user_active') THEN
                RAISE EXCEPTION 'the sessions indexes are missing';
              END IF;
              IF EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'sessions_previous_refresh_hash') THEN
                RAISE EXCEPTION 'sessions_previous_refresh_hash was not dropped';
              END IF;
            END $$;
            """, database: database)
    }

    /// Every check of the suite, one test case each (the suite's `checks` list is the only list).
    @Test(arguments: StoreConformance.checks)
    func check(_ check: StoreConformance.Check) async throws {
        try await Self.run(check.run)
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
