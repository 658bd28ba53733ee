import ClassyCore
import ClassyStore
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import ClassyStoreSQLite

/// Concurrent writes share commits: each still behaves as a transaction of its own.
@Suite("SQLite group commit")
struct GroupCommitTests {
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    func newUser(_ email: String) -> NewUser {
        NewUser(email: email, passwordHash: "x", firstName: "A", lastName: "B", role: .user, createTime: t0)
    }

    /// A migrated store on the file `name` in `directory`.
    func migratedStore(_ name: String, in directory: TemporaryDirectory) async throws -> SQLiteStore {
        let store = try SQLiteStore(path: directory.path(name))
        try await store.migrate()
        return store
    }

    /// Inserts an audit row with `id`; returns the connection's synchronous mode (1 = NORMAL, no fsync at
    /// commit; 2 = FULL).
    @discardableResult
    @Sendable static func insertAudit(_ id: String, in db: Database) throws -> Int {
        try db.execute(
            sql:
                "INSERT INTO audit_logs (id, action, resource_type, resource_id, details, ip_address, time) VALUES (?, 'a', 't', ?, '{}', '', 0)",
            arguments: [id, id])
        return try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
    }

    @Test("300 concurrent writes, 100 of them failing: the failures roll back alone, the rest all commit")
    func failuresRollBackAlone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await migratedStore("group.sqlite", in: directory)
        _ = try await store.createUser(newUser("taken@classy.test"), effects: .none)

        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<300 {
                group.addTask {
                    do {
                        // Every third write collides with an existing email and must fail on its own.
                        let email = index % 3 == 0 ? "taken@classy.test" : "user\(index)@classy.test"
                        let effects = StoreEffects(auditEntries: [
                            AuditEntryRecord(action: "user.create", resourceType: "user", resourceID: email, time: t0)
                        ])
                        _ = try await store.createUser(newUser(email), effects: effects)
                        return true
                    } catch let error as StoreError {
                        #expect(error.code == .emailTaken)
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 200)
        let (users, audits) = try await store.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_logs") ?? 0
            )
        }
        #expect(users == 201)
        // The failed writes' effects were rolled back with them.
        #expect(audits == 200)
        try await store.close()

        // Everything answered as committed is on disk.
        let reopened = try SQLiteStore(path: directory.path("group.sqlite"))
        #expect(try await reopened.user(email: "user1@classy.test") != nil)
        try await reopened.close()
    }

    @Test("a write's result is visible to a read as soon as the write returns")
    func readYourWrites() async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    let created = try await store.createUser(newUser("ryw\(index)@classy.test"), effects: .none)
                    #expect(try await store.user(id: created.id)?.email == "ryw\(index)@classy.test")
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("a write alone in its group that throws leaves nothing behind; the next one commits")
    func loneFailureRollsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await migratedStore("lone.sqlite", in: directory)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await store.groupCommit.write { db in
                try Self.insertAudit("first", in: db)
                try Self.insertAudit("second", in: db)
                throw Refused()
            }
        }
        _ = try await store.groupCommit.write { db in try Self.insertAudit("third", in: db) }
        let ids = try await store.read { db in try String.fetchAll(db, sql: "SELECT id FROM audit_logs ORDER BY id") }
        #expect(ids == ["third"])
        try await store.close()
    }

    @Test("a group whose transaction SQLite rolled back by itself fails its remaining writes; none commits alone")
    func abortedGroupFailsTheRest() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await migratedStore("aborted.sqlite", in: directory)
        // The first write holds the writer until the next three are queued, so that they form one group.
        let holding = Atomic(false)
        let gate = DispatchSemaphore(value: 0)
        let holder = Task {
            try await store.groupCommit.write { db in
                holding.store(true, ordering: .sequentiallyConsistent)
                gate.wait()
                try Self.insertAudit("holder", in: db)
            }
        }
        func waitUntil(_ condition: () -> Bool) async throws {
            while !condition() { try await Task.sleep(for: .milliseconds(5)) }
        }
        try await waitUntil { holding.load(ordering: .sequentiallyConsistent) }
        // As SQLite does after some errors (disk full, I/O error), the first write of the group ends the
        // transaction under the others' feet.
        let aborting = Task {
            try await store.groupCommit.write { db in
                try Self.insertAudit("aborting", in: db)
                try db.execute(sql: "ROLLBACK")
            }
        }
        try await waitUntil { store.groupCommit.queuedWrites == 1 }
        let next = Task { try await store.groupCommit.write { db in try Self.insertAudit("next", in: db) } }
        try await waitUntil { store.groupCommit.queuedWrites == 2 }
        let last = Task { try await store.groupCommit.write { db in try Self.insertAudit("last", in: db) } }
        try await waitUntil { store.groupCommit.queuedWrites == 3 }
        gate.signal()
        _ = try await holder.value

        await #expect(throws: (any Error).self) { try await aborting.value }
        for write in [next, last] {
            await #expect {
                _ = try await write.value
            } throws: { error in
                (error as? DatabaseError)?.resultCode == .SQLITE_ABORT
            }
        }
        let ids = try await store.read { db in try String.fetchAll(db, sql: "SELECT id FROM audit_logs ORDER BY id") }
        #expect(ids == ["holder"])
        // The writer goes on with the next group.
        _ = try await store.groupCommit.write { db in try Self.insertAudit("after", in: db) }
        #expect(try await store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_logs") } == 2)
        try await store.close()
    }

    @Test("deferred writes commit without an fsync; a group with any durable write commits with one")
    func deferredDurability() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await migratedStore("deferred.sqlite", in: directory)
        let relaxed = try await store.groupCommit.write(durability: .withNextDurableCommit) { db in
            try Self.insertAudit("deferred-0", in: db)
        }
        #expect(relaxed == 1)
        #expect(store.groupCommit.lastGroupRelaxed)
        #expect(try await store.groupCommit.write { db in try Self.insertAudit("durable-0", in: db) } == 2)
        #expect(!store.groupCommit.lastGroupRelaxed)

        // Mixed concurrent writes: every durable one runs in a group that syncs.
        let modes = try await withThrowingTaskGroup(of: (Bool, Int).self) { group in
            for index in 1...200 {
                group.addTask {
                    let deferred = index % 2 == 0
                    let mode = try await store.groupCommit.write(
                        durability: deferred ? .withNextDurableCommit : .immediate
                    ) { db in try Self.insertAudit("\(deferred ? "deferred" : "durable")-\(index)", in: db) }
                    return (deferred, mode)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(modes.filter { !$0.0 }.allSatisfy { $0.1 == 2 })
        #expect(modes.filter { $0.0 }.allSatisfy { $0.1 == 1 || $0.1 == 2 })
        try await store.close()

        // Everything committed is there after reopening.
        let reopened = try SQLiteStore(path: directory.path("deferred.sqlite"))
        let count = try await reopened.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_logs") }
        #expect(count == 202)
        try await reopened.close()
    }

    @Test("a bare login-failure count defers its durability; a count with its attempt does not")
    func bareCountIsDeferred() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await migratedStore("count.sqlite", in: directory)
        let counts = try await store.recordLoginFailure(
            email: "a@classy.test", ipKey: "192.0.2.1", window: 900, now: t0, attempt: nil, effects: .none)
        #expect(counts.email == 1 && counts.ip == 1)
        #expect(store.groupCommit.lastGroupRelaxed)
        let attempt = LoginAttemptRecord(
            email: "a@classy.test", ipAddress: "192.0.2.1", success: false, failureReason: "INVALID_CREDENTIALS",
            userID: nil, sessionID: nil, userAgent: "", deviceName: "", time: t0)
        let second = try await store.recordLoginFailure(
            email: "a@classy.test", ipKey: nil, window: 900, now: t0, attempt: attempt, effects: .none)
        #expect(second.email == 2)
        #expect(!store.groupCommit.lastGroupRelaxed)
        try await store.close()
    }
}
