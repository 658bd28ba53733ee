import ClassyCore
import ClassyStore
import Foundation
import Testing

@testable import ClassyStoreSQLite

/// Admission's lock and block reads are served from memory, and never a row a commit changed.
@Suite("SQLite lock and block cache")
struct SecurityStateCacheTests {
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    func store() async throws -> SQLiteStore {
        let store = try SQLiteStore.inMemory()
        try await store.migrate()
        return store
    }

    @Test("an email's lock state is read once; locking and unlocking are seen by the very next read")
    func locks() async throws {
        let store = try await store()
        #expect(try await store.accountLock(email: "Lock@Classy.test") == nil)
        let hits = store.securityCache.hits
        #expect(try await store.accountLock(email: "lock@classy.test") == nil)
        #expect(store.securityCache.hits == hits + 1)

        let until = t0.addingTimeInterval(900)
        _ = try await store.lockAccount(
            email: "lock@classy.test", until: until, now: t0, escalationResetBefore: nil, effects: .none)
        let locked = try await store.accountLock(email: "lock@classy.test")
        #expect(locked?.lockedUntil == until)
        #expect(locked?.lockCount == 1)
        #expect(try await store.accountLock(email: "lock@classy.test") == locked)

        _ = try await store.unlockAccount(email: "lock@classy.test", now: t0, effects: .none)
        let unlocked = try await store.accountLock(email: "lock@classy.test")
        #expect(unlocked?.lockedUntil == nil)
        #expect(unlocked?.lockCount == 1)
    }

    @Test("an IP key without an open block is answered from memory; blocks, expiry and unblocking are seen")
    func blocks() async throws {
        let store = try await store()
        let key = "198.51.100.7"
        #expect(try await store.blockCount(ipAddress: key, since: .distantPast) == 0)
        let hits = store.securityCache.hits
        #expect(try await store.activeBlock(ipAddress: key, now: t0) == nil)
        #expect(store.securityCache.hits == hits + 1)

        let until = t0.addingTimeInterval(600)
        _ = try await store.blockIP(
            BlockedIPRecord(ipAddress: key, reason: "test", blockedUntil: until, permanent: false, createTime: t0),
            effects: .none)
        #expect(try await store.activeBlock(ipAddress: key, now: t0)?.blockedUntil == until)
        #expect(try await store.blockCount(ipAddress: key, since: .distantPast) == 1)
        // An open block may expire: it is read from the database at every `now`.
        #expect(try await store.activeBlock(ipAddress: key, now: until.addingTimeInterval(1)) == nil)
        #expect(try await store.activeBlock(ipAddress: key, now: t0.addingTimeInterval(1))?.blockedUntil == until)
        // Other windows of the count are never cached.
        #expect(try await store.blockCount(ipAddress: key, since: t0.addingTimeInterval(1)) == 0)

        _ = try await store.unblockIP(ipAddress: key, reason: "done", now: t0, effects: .none)
        #expect(try await store.activeBlock(ipAddress: key, now: t0) == nil)
        let afterUnblock = store.securityCache.hits
        #expect(try await store.activeBlock(ipAddress: key, now: t0) == nil)
        #expect(try await store.blockCount(ipAddress: key, since: .distantPast) == 1)
        #expect(store.securityCache.hits == afterUnblock + 2)
    }

    @Test("a read that raced a commit of the same table is not cached")
    func racingReadIsNotCached() async throws {
        let store = try await store()
        let cache = store.securityCache
        let lockGeneration = cache.lockGeneration
        let blockGeneration = cache.blockGeneration
        // A lock and a block commit while the reads "were in flight".
        _ = try await store.lockAccount(
            email: "race@classy.test", until: t0.addingTimeInterval(60), now: t0, escalationResetBefore: nil,
            effects: .none)
        _ = try await store.blockIP(
            BlockedIPRecord(
                ipAddress: "203.0.113.9", reason: "test", blockedUntil: nil, permanent: true, createTime: t0),
            effects: .none)
        cache.storeLock(nil, email: "race@classy.test", generation: lockGeneration)
        cache.storeIPState(.init(blockCount: 0, hasOpenBlock: false), key: "203.0.113.9", generation: blockGeneration)
        #expect(cache.lock(email: "race@classy.test") == nil)
        #expect(cache.ipState("203.0.113.9") == nil)
        #expect(try await store.accountLock(email: "race@classy.test")?.lockCount == 1)
        #expect(try await store.activeBlock(ipAddress: "203.0.113.9", now: t0)?.permanent == true)
    }

    @Test("a rolled-back change to locks or blocks keeps what is cached")
    func rollbackKeepsEntries() async throws {
        let store = try await store()
        _ = try await store.accountLock(email: "keep@classy.test")
        await #expect(throws: (any Error).self) {
            try await store.groupCommit.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO account_locks (email, locked_until, lock_count, last_lock_time) VALUES (?, 1, 1, 1)",
                    arguments: ["keep@classy.test"])
                throw StoreError.conflict("roll back")
            }
        }
        let hits = store.securityCache.hits
        #expect(try await store.accountLock(email: "keep@classy.test") == nil)
        #expect(store.securityCache.hits == hits + 1)
    }
}
