import ClassyCore
import ClassyStore
import Foundation
import GRDB
import Logging
import Testing

@testable import ClassyStoreSQLite

/// SQLite-specific behaviour: migrations, pragmas, foreign keys, durability and indexes.
@Suite("SQLite store specifics")
struct SQLiteStoreTests {
    let logger = Logger(label: "classy.store.sqlite.tests")
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    @Test func migrationsAreVersionedAndAppliedOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("migrations.sqlite")

        // A database created by an older version (first migration only) is brought up to date.
        do {
            let old = try SQLiteStore(path: path, logger: logger)
            try SQLiteSchema.migrator().migrate(old.writer, upTo: SQLiteSchema.migrationIdentifiers[0])
            #expect(try await old.appliedMigrations() == [SQLiteSchema.migrationIdentifiers[0]])
            try await old.close()
        }
        let store = try SQLiteStore(path: path, logger: logger)
        try await store.migrate()
        #expect(try await store.appliedMigrations() == SQLiteSchema.migrationIdentifiers)
        let tables = try await store.writer.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        for table in [
            "users", "sessions", "refresh_tokens", "login_attempts", "login_failures", "account_locks",
            "blocked_ips", "audit_logs", "events", "notifications", "idempotency_keys", "service_accounts",
            "signing_keys", "store_counters",
        ] {
            #expect(tables.contains(table), "missing table \(table)")
        }
        let indexes = try await store.writer.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        #expect(indexes.contains("sessions_user_active"))
        #expect(!indexes.contains("sessions_previous_refresh_hash"), "dropped by v5")
        // Migrating again changes nothing.
        _ = try await store.createUser(
            NewUser(email: "keep@example.com", passwordHash: "h", firstName: "K", lastName: "P", createTime: t0),
            effects: .none)
        try await store.migrate()
        #expect(try await store.countUsers(includeDeleted: true) == 1)
        try await store.close()

        let fresh = try SQLiteStore(path: directory.path("fresh.sqlite"), logger: logger)
        #expect(try await fresh.appliedMigrations().isEmpty)
        try await fresh.migrate()
        #expect(try await fresh.appliedMigrations() == SQLiteSchema.migrationIdentifiers)
        try await fresh.close()
    }

    @Test("v6 keeps every failure counted before it, with failures at the same key and time merged into a count")
    func loginFailuresMigrationKeepsCounts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("failures.sqlite")
        let now = Date(timeIntervalSinceReferenceDate: 1_000)
        do {
            let old = try SQLiteStore(path: path, logger: logger)
            try SQLiteSchema.migrator().migrate(old.writer, upTo: SQLiteSchema.migrationIdentifiers[4])
            try await old.writer.write { db in
                // Three failures of one key, two of them at the same instant, and one of another key.
                for (key, time) in [("email:a", 990.0), ("email:a", 995.0), ("email:a", 995.0), ("ip:10.0.0.1", 999.0)]
                {
                    try db.execute(
                        sql: "INSERT INTO login_failures (scope_key, time) VALUES (?, ?)", arguments: [key, time])
                }
            }
            try await old.close()
        }
        let store = try SQLiteStore(path: path, logger: logger)
        try await store.migrate()
        let (counts, withoutRowID, indexes) = try await store.writer.read { db in
            (
                try Row.fetchAll(db, sql: "SELECT scope_key, time, count FROM login_failures ORDER BY scope_key, time")
                    .map { [$0["scope_key"] as String, "\($0["time"] as Double)", "\($0["count"] as Int)"] },
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'login_failures'")?
                    .contains("WITHOUT ROWID") ?? false,
                try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'login_failures'")
            )
        }
        #expect(
            counts == [["email:a", "990.0", "1"], ["email:a", "995.0", "2"], ["ip:10.0.0.1", "999.0", "1"]])
        #expect(withoutRowID)
        #expect(indexes.contains("login_failures_time") && !indexes.contains("login_failures_key_time"))
        // The store counts them as before: three for the email within the window, and a fourth at the same
        // instant as the last adds to that row's count.
        let counted = try await store.write(effects: .none) { db in
            try SQLiteStore.countFailure(key: "email:a", window: 60, now: now, in: db)
        }
        #expect(counted == 4)
        #expect(
            try await store.write(effects: .none) { db in
                try SQLiteStore.countFailure(key: "email:a", window: 60, now: now, in: db)
            } == 5)
        try await store.close()
    }

    @Test func walModeForeignKeysAndDurableCommits() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.path("pragmas.sqlite"), logger: logger)
        try await store.migrate()
        let (journal, writerForeignKeys, synchronous) = try await store.writer.writeWithoutTransaction { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
                try Int.fetchOne(db, sql: "PRAGMA synchronous")
            )
        }
        #expect(journal == "wal")
        #expect(writerForeignKeys == 1)
        #expect(synchronous == 2, "synchronous must be FULL (2) on the writer")
        let readerForeignKeys = try await store.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA foreign_keys") }
        #expect(readerForeignKeys == 1)
        #expect(store.writer is DatabasePool)
        try await store.close()
    }

    @Test func foreignKeysAreEnforced() async throws {
        let store = try SQLiteStore.inMemory(logger: logger)
        try await store.migrate()
        // A notification for an unknown user violates its foreign key; the whole transaction rolls back.
        await #expect(throws: StoreError.self) {
            try await store.commit(
                StoreEffects(
                    events: [NewSecurityEvent(kind: .auditLog, time: t0, payload: Data())],
                    notifications: [
                        NewNotification(userID: "nobody", kind: "NEW_SIGN_IN", title: "t", body: "b", createTime: t0)
                    ]))
        }
        #expect(try await store.latestEventSequence() == 0)
        do {
            _ = try await store.commit(
                StoreEffects(notifications: [
                    NewNotification(userID: "nobody", kind: "NEW_SIGN_IN", title: "t", body: "b", createTime: t0)
                ]))
            Issue.record("expected a foreign-key failure")
        } catch let error as StoreError {
            #expect(error.code == .notFound)
        }
        // Below the store's own checks, SQLite itself refuses orphans.
        await #expect(throws: DatabaseError.self) {
            try await store.writer.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO refresh_tokens (hash, session_id, generation) VALUES ('h', 'no-such-session', 0)
                        """)
            }
        }
        try await store.close()
    }

    @Test func dataSurvivesClosingAndReopening() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("durable.sqlite")

        let store = try SQLiteStore(path: path, logger: logger)
        try await store.migrate()
        let user = try await store.createUser(
            NewUser(email: "durable@example.com", passwordHash: "h", firstName: "D", lastName: "U", createTime: t0),
            effects: StoreEffects(events: [NewSecurityEvent(kind: .auditLog, time: t0, payload: Data([1]))]))
        let session = try await store.createSession(
            SessionRecord(
                userID: user.id, ipAddress: "192.0.2.1", createTime: t0,
                expireTime: t0.addingTimeInterval(3600), currentRefreshHash: "durable-r0"),
            effects: .none)
        let committed = try await store.commit(
            StoreEffects(
                auditEntries: [AuditEntryRecord(action: "a", resourceType: "user", resourceID: user.id, time: t0)],
                events: [NewSecurityEvent(kind: .ipBlocked, time: t0, payload: Data([2]))],
                notifications: [
                    NewNotification(userID: user.id, kind: "NEW_SIGN_IN", title: "t", body: "b", createTime: t0)
                ]))
        let key = SigningKeyRecord(
            id: "kid", privateKey: Data(repeating: 7, count: 32),
            publicKey: Data(repeating: 8, count: 32), createTime: t0)
        try await store.insertSigningKey(key)
        let lock = try await store.lockAccount(
            email: "durable@example.com", until: t0.addingTimeInterval(60), now: t0,
            escalationResetBefore: nil, effects: .none)
        let changeSequence = try await store.latestUserChangeSequence()
        try await store.close()

        let reopened = try SQLiteStore(path: path, logger: logger)
        try await reopened.migrate()
        #expect(try await reopened.user(id: user.id) == user)
        #expect(try await reopened.session(refreshHash: "durable-r0") == session)
        #expect(try await reopened.latestEventSequence() == 2)
        #expect(try await reopened.events(after: 1, types: nil, limit: 10) == committed.events)
        #expect(try await reopened.notifications(userID: user.id, after: 0, limit: 10) == committed.notifications)
        #expect(try await reopened.listAuditLogs(AuditQuery()).count == 1)
        #expect(try await reopened.signingKeys() == [key])
        #expect(try await reopened.accountLock(email: "durable@example.com") == lock)
        #expect(try await reopened.latestUserChangeSequence() == changeSequence)

        // Sequences continue after a restart; they are never reused, even after rows are deleted.
        try await reopened.writer.write { db in try db.execute(sql: "DELETE FROM events") }
        let next = try await reopened.commit(
            StoreEffects(events: [NewSecurityEvent(kind: .auditLog, time: t0, payload: Data())]))
        #expect(next.events.map(\.sequence) == [3])
        let another = try await reopened.createUser(
            NewUser(email: "second@example.com", passwordHash: "h", firstName: "S", lastName: "E", createTime: t0),
            effects: .none)
        #expect(another.changeSequence == changeSequence + 1)
        try await reopened.close()
    }

    @Test func inMemoryStoreWorks() async throws {
        let store = try SQLiteStore.inMemory(logger: logger)
        #expect(store.location == ":memory:")
        try await store.migrate()
        let user = try await store.createUser(
            NewUser(email: "memory@example.com", passwordHash: "h", firstName: "M", lastName: "E", createTime: t0),
            effects: .none)
        #expect(try await store.user(email: "memory@example.com") == user)
        #expect(store.writer is DatabaseQueue)
        try await store.close()
    }

    @Test func unusablePathIsUnavailable() async throws {
        #expect {
            _ = try SQLiteStore(path: "/dev/null/classy/store.sqlite", logger: logger)
        } throws: { error in
            (error as? StoreError)?.code == .unavailable
        }
    }

    @Test func hotQueriesUseIndexes() async throws {
        let store = try SQLiteStore.inMemory(logger: logger)
        try await store.migrate()
        let queries: [(String, String)] = [
            ("SELECT * FROM users WHERE email = 'a' AND deleted = 0", "users_email_live"),
            ("SELECT * FROM users WHERE change_sequence > 5 ORDER BY change_sequence LIMIT 10", "change_sequence"),
            (
                "SELECT sessions.* FROM refresh_tokens JOIN sessions ON sessions.id = refresh_tokens.session_id "
                    + "WHERE refresh_tokens.hash = 'x'", "refresh_tokens"
            ),
            ("SELECT COUNT(*) FROM login_attempts WHERE time >= 1 AND time < 2", "login_attempts_time"),
            (
                "SELECT ip_address, COUNT(*) AS c FROM login_attempts WHERE time >= 1 AND time < 2 AND success = 0 "
                    + "GROUP BY ip_address", "login_attempts_time"
            ),
            ("SELECT * FROM login_attempts WHERE email = 'a' ORDER BY time DESC LIMIT 5", "login_attempts_email_time"),
            ("SELECT SUM(count) FROM login_failures WHERE scope_key = 'k' AND time > 1", "PRIMARY KEY"),
            ("DELETE FROM login_failures WHERE time < 1", "login_failures_time"),
            (
                "SELECT COUNT(*) FROM sessions WHERE revoked_time IS NULL AND expire_time > 1",
                "sessions_active_expire_time"
            ),
            (
                "SELECT * FROM sessions WHERE user_id = 'u' AND revoked_time IS NULL AND expire_time > 1 "
                    + "ORDER BY create_time DESC, id DESC LIMIT 5", "sessions_user_active"
            ),
            ("SELECT COUNT(*) FROM account_locks WHERE locked_until > 1", "account_locks_locked_until"),
            ("SELECT * FROM events WHERE sequence > 1 ORDER BY sequence LIMIT 10", "PRIMARY KEY"),
            (
                "SELECT * FROM notifications WHERE user_id = 'u' AND cursor > 1 ORDER BY cursor LIMIT 10",
                "notifications_user_cursor"
            ),
            ("SELECT * FROM audit_logs WHERE actor_user_id = 'a' ORDER BY time DESC LIMIT 10", "audit_logs_actor_time"),
            (
                "SELECT COUNT(*) FROM blocked_ips WHERE ip_address = 'a' AND create_time >= 1",
                "blocked_ips_ip_create_time"
            ),
        ]
        for (sql, index) in queries {
            let plan = try await store.writer.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }
                    .joined(separator: " | ")
            }
            #expect(plan.contains(index), "\(sql) -> \(plan)")
        }
        try await store.close()
    }
}
