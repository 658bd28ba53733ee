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

    /// Every check of the suite, one test case each (the suite's `checks` list is the only list).
    @Test(arguments: StoreConformance.checks)
    func check(_ check: StoreConformance.Check) async throws {
        try await Self.run(check.run)
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
