import ClassyCore
import ClassyStore
import Foundation
import GRDB
import Testing

@testable import ClassyStoreSQLite

/// The session cache serves authentication without a read, and never a row a commit changed.
@Suite("SQLite session cache")
struct SessionCacheTests {
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    func fixture() async throws -> (SQLiteStore, UserRecord, SessionRecord) {
        let store = try SQLiteStore.inMemory()
        try await store.migrate()
        let user = try await store.createUser(
            NewUser(
                email: "cache@classy.test", passwordHash: "x", firstName: "A", lastName: "B", role: .user,
                createTime: t0),
            effects: .none
        )
        let session = try await store.createSession(
            SessionRecord(
                userID: user.id, ipAddress: "127.0.0.1", createTime: t0, expireTime: t0.addingTimeInterval(3600),
                currentRefreshHash: "cache-refresh"
            ),
            effects: .none
        )
        return (store, user, session)
    }

    @Test("a second read is served from the cache; a revocation drops it before revokeSessions returns")
    func revocationDropsEntry() async throws {
        let (store, _, session) = try await fixture()
        #expect(try await store.sessionWithUser(id: session.id)?.session.revokedTime == nil)
        #expect(store.sessionCache.entry(sessionID: session.id) != nil)
        _ = try await store.revokeSession(id: session.id, reason: "logout", now: t0, effects: .none)
        #expect(store.sessionCache.entry(sessionID: session.id) == nil)
        #expect(try await store.sessionWithUser(id: session.id)?.session.revokedTime == t0)
    }

    @Test("changing the user (role, deactivation) drops every cached session of that user")
    func userChangeDropsEntries() async throws {
        let (store, user, session) = try await fixture()
        _ = try await store.sessionWithUser(id: session.id)
        _ = try await store.updateUser(id: user.id, ifETag: nil, changes: UserChanges(role: .admin), now: t0)
        #expect(store.sessionCache.entry(sessionID: session.id) == nil)
        #expect(try await store.sessionWithUser(id: session.id)?.user.role == .admin)
        _ = try await store.updateUser(id: user.id, ifETag: nil, changes: UserChanges(isActive: false), now: t0)
        #expect(try await store.sessionWithUser(id: session.id)?.user.isActive == false)
    }

    @Test("a failed write changes nothing and a rolled-back change is not cached")
    func rollbackKeepsEntries() async throws {
        let (store, _, session) = try await fixture()
        _ = try await store.sessionWithUser(id: session.id)
        await #expect(throws: (any Error).self) {
            try await store.groupCommit.write { db in
                try db.execute(sql: "UPDATE sessions SET revoked_time = 1 WHERE id = ?", arguments: [session.id])
                throw StoreError.invalid("roll it back")
            }
        }
        #expect(try await store.sessionWithUser(id: session.id)?.session.revokedTime == nil)
    }

    @Test("reads racing revocations never see a revoked session as live once the revocation returned")
    func racingReads() async throws {
        let (store, user, _) = try await fixture()
        var sessions: [SessionRecord] = []
        for index in 0..<50 {
            sessions.append(
                try await store.createSession(
                    SessionRecord(
                        userID: user.id, ipAddress: "127.0.0.1", createTime: t0,
                        expireTime: t0.addingTimeInterval(3600), currentRefreshHash: "race-\(index)"
                    ),
                    effects: .none
                )
            )
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for session in sessions {
                group.addTask {
                    for _ in 0..<5 { _ = try await store.sessionWithUser(id: session.id) }
                    _ = try await store.revokeSession(id: session.id, reason: "race", now: t0, effects: .none)
                    #expect(try await store.sessionWithUser(id: session.id)?.session.revokedTime != nil)
                }
                group.addTask {
                    for _ in 0..<10 { _ = try await store.sessionWithUser(id: session.id) }
                }
            }
            try await group.waitForAll()
        }
        for session in sessions {
            #expect(try await store.sessionWithUser(id: session.id)?.session.revokedTime != nil)
        }
    }
}
