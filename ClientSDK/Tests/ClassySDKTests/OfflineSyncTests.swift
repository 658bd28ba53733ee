import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

@_spi(Testing) @testable import ClassySDK

@Suite("SDK offline cache and outbox")
struct OfflineSyncTests {
    /// Runs `body` with a fresh database path and a fixed port outside the kernel's ephemeral range (see
    /// ``FreePort``), on which a first, short-lived server starts: restarts on that port cannot find it taken by
    /// another test's connection.
    static func withRestartableServer(
        _ body: (_ port: Int, _ database: String, _ clock: ManualClock) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            let database = directory.appendingPathComponent("server.sqlite").path
            let clock = ManualClock()
            let port = try FreePort.find()
            try await withTestServer(configure: { $0.port = port }, databasePath: database, clock: clock) { _ in }
            try await body(port, database, clock)
        }
    }

    @Test(
        "offline: reads come from the cache (stale); mutations queue and are applied exactly once when the server is back"
    )
    func offlineThenReconnect() async throws {
        try await Self.withRestartableServer { port, database, clock in
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: port, directory: directory)) { client in
                    let restart: (_ body: (TestServer) async throws -> Void) async throws -> Void = { body in
                        try await withTestServer(configure: { $0.port = port }, databasePath: database, clock: clock) {
                            server async throws in
                            try await client.waitUntilReachable()
                            try await body(server)
                        }
                    }
                    var userID = ""
                    var firstEtag = ""
                    try await restart { server in
                        let account = try await server.makeAccount()
                        userID = account.id
                        try await server.notify(account.id, "one")
                        try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                        let me = try await client.users.me()
                        #expect(!me.isStale)
                        firstEtag = me.value.etag
                        #expect(try await client.notifications.list().value.notifications.count >= 1)
                        // The session the test kit opened for the account, and the app's (current) one.
                        let sessions = try await client.auth.sessions().value
                        #expect(sessions.count == 2)
                        #expect(sessions.filter(\.isCurrent).map(\.deviceName) == ["sdk-test"])
                    }

                    // The server is down.
                    let me = try await client.users.me()
                    #expect(me.isStale)
                    #expect(me.value.id == userID)
                    #expect(try await client.auth.sessions().isStale)
                    let notifications = try await client.notifications.list()
                    #expect(notifications.isStale)
                    #expect(notifications.value.notifications.contains { $0.title == "one" })

                    let update = try await client.users.updateMe(firstName: "Offline")
                    #expect(update.isQueued)
                    let read = try await client.notifications.markAllRead()
                    #expect(read.isQueued)
                    let pending = try await client.outbox.pending()
                    #expect(pending.map(\.operation.name) == ["UpdateMe", "MarkNotificationsRead"])
                    #expect(Set(pending.map(\.idempotencyKey)).count == 2)
                    let offlineReport = try await client.outbox.replay()
                    #expect(offlineReport.offline)
                    #expect(try await client.outbox.pending().count == 2)

                    // The server is back (same port, same data).
                    try await restart { server in
                        let report = try await client.outbox.replay()
                        #expect(report.applied == 2)
                        #expect(!report.offline)
                        #expect(try await client.outbox.pending().isEmpty)
                        // A second replay finds nothing to send.
                        #expect(try await client.outbox.replay().applied == 0)

                        let stored = try #require(try await server.store.user(id: userID))
                        #expect(stored.firstName == "Offline")
                        #expect(stored.etag != firstEtag)
                        let updates = try await server.store.notifications(userID: userID, after: 0, limit: 100).filter
                        { $0.kind == "profile_updated" }
                        #expect(updates.count == 1, "UpdateMe applied exactly once")
                        let fresh = try await client.users.me()
                        #expect(!fresh.isStale)
                        #expect(fresh.value.firstName == "Offline")
                        #expect(try await client.notifications.list(unreadOnly: true).value.unreadCount == 0)
                    }
                }
            }
        }
    }

    @Test("a replay killed after the server applied a mutation resumes from the file without loss or duplicate")
    func killedMidReplay() async throws {
        try await withTestServer { server async throws in
            let admin = try await server.makeAccount(role: .superAdmin)
            let newEmail = "created-\(UUID().uuidString.prefix(8).lowercased())@classy.test"
            let usersBefore = try await server.store.countUsers(includeDeleted: true)
            try await withTemporaryDirectory { directory in
                var dying = sdkConfiguration(port: server.port, directory: directory)
                dying.hooks.afterMutationSent = { _ in throw SimulatedCrash() }
                try await withClassyClient(dying) { client in
                    try await client.auth.signIn(email: admin.email, password: TestServer.userPassword)
                    do {
                        _ = try await client.users.create(
                            ClassySDK.NewUser(
                                email: newEmail, password: "a long enough password", firstName: "New", lastName: "User")
                        )
                        Issue.record("the simulated crash did not happen")
                    } catch is SimulatedCrash {}
                }
                // The server created the user, but the dead process never recorded it.
                #expect(try await server.store.user(email: newEmail) != nil)

                // A new process opens the same files.
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    let pending = try await client.outbox.pending()
                    #expect(pending.count == 1)
                    #expect(pending.first?.state == .sending)
                    #expect(pending.first?.attempts == 1)
                    let blocked = try await client.monitoring.blockIP("203.0.113.7", reason: "after the crash")
                    #expect(blocked.value?.ipAddress == "203.0.113.7")
                    #expect(try await client.outbox.pending().isEmpty, "the create was replayed first, then the block")
                }
                #expect(
                    try await server.store.countUsers(includeDeleted: true) == usersBefore + 1, "created exactly once")
                let created = try #require(try await server.store.user(email: newEmail))
                let audit = try await server.monitoring.listAuditLogs(
                    .with { $0.action = "user.create" },
                    metadata: .bearer(try await server.signIn(role: .admin).accessToken)
                )
                #expect(audit.entries.filter { $0.resourceID == created.id }.count == 1)
            }
        }
    }

    /// Sets up a conflict: the app read its profile, then another session changed it.
    static func conflictingProfile(
        server: TestServer, client: ClassyClient
    ) async throws -> (staleEtag: String, userID: String) {
        let account = try await server.makeAccount()
        try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
        let stale = try await client.users.me().value.etag
        let other = try await server.signIn(role: .user, email: "x-\(UUID().uuidString.prefix(6))@classy.test")
        _ = other
        // The same account from another device.
        let session = try await server.auth.login(
            .with {
                $0.email = account.email
                $0.password = TestServer.userPassword
            }
        )
        _ = try await server.users.updateMe(
            .with {
                $0.user.firstName = "Theirs"
                $0.user.etag = stale
                $0.updateMask = .init(protoPaths: ["first_name"])
            },
            metadata: .bearer(session.tokens.accessToken)
        )
        return (stale, account.id)
    }

    @Test("conflict, server wins (default): the local change is kept for inspection, the server's version stands")
    func conflictServerWins() async throws {
        try await withTestServer { server async throws in
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    let (stale, userID) = try await Self.conflictingProfile(server: server, client: client)
                    let outcome = try await client.users.updateMe(firstName: "Mine", lastName: "Local", etag: stale)
                    let conflict = try #require(outcome.conflict)
                    #expect(conflict.server?.firstName == "Theirs")
                    #expect(conflict.local?.firstName == "Mine")
                    #expect(conflict.local?.lastName == "Local")
                    #expect(try await server.store.user(id: userID)?.firstName == "Theirs")
                    let kept = try await client.outbox.pending()
                    #expect(kept.count == 1)
                    #expect(kept.first?.state == .conflicted(conflict))
                    // The cache holds the server's version.
                    let cached = try #require(try await client.cache()?.get(User.self, at: OfflineCache.Key.me))
                    #expect(cached.value.firstName == "Theirs")
                    try await client.outbox.discard(id: try #require(kept.first).id)
                    #expect(try await client.outbox.pending().isEmpty)
                }
            }
        }
    }

    @Test("conflict, client wins: the local change is applied again at the server's etag")
    func conflictClientWins() async throws {
        try await withTestServer { server async throws in
            try await withTemporaryDirectory { directory in
                var configuration = sdkConfiguration(port: server.port, directory: directory)
                configuration.conflictPolicy = .clientWins
                try await withClassyClient(configuration) { client in
                    let (stale, userID) = try await Self.conflictingProfile(server: server, client: client)
                    let outcome = try await client.users.updateMe(firstName: "Mine", etag: stale)
                    #expect(outcome.value?.firstName == "Mine")
                    #expect(try await server.store.user(id: userID)?.firstName == "Mine")
                    #expect(try await client.outbox.pending().isEmpty)
                }
            }
        }
    }

    @Test("conflict, custom policy: the app merges both versions")
    func conflictCustomMerge() async throws {
        try await withTestServer { server async throws in
            try await withTemporaryDirectory { directory in
                var configuration = sdkConfiguration(port: server.port, directory: directory)
                configuration.conflictPolicy = .custom { conflict in
                    // Keep the server's first name, take the local last name.
                    .apply(UserUpdate(firstName: conflict.server?.firstName, lastName: conflict.local?.lastName))
                }
                try await withClassyClient(configuration) { client in
                    let (stale, userID) = try await Self.conflictingProfile(server: server, client: client)
                    let outcome = try await client.users.updateMe(firstName: "Mine", lastName: "Merged", etag: stale)
                    #expect(outcome.value?.firstName == "Theirs")
                    #expect(outcome.value?.lastName == "Merged")
                    let stored = try #require(try await server.store.user(id: userID))
                    #expect(stored.firstName == "Theirs")
                    #expect(stored.lastName == "Merged")
                }
            }
        }
    }

    @Test(
        "admin UpdateUser and DeleteUser at a stale etag: server wins keeps the other admin's change; client wins deletes"
    )
    func adminConflicts() async throws {
        try await withTestServer { server async throws in
            let admin = try await server.makeAccount(role: .admin)
            let otherAdmin = try await server.signIn(role: .admin).accessToken
            let target = try await server.makeAccount()
            try await withTemporaryDirectory { directory in
                let staleETag = try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) {
                    client in
                    try await client.auth.signIn(email: admin.email, password: TestServer.userPassword)
                    let read = try await client.users.get(id: target.id).value
                    let changed = try await server.users.updateUser(
                        .with {
                            $0.user.id = target.id
                            $0.user.etag = read.etag
                            $0.user.lastName = "ByOtherAdmin"
                            $0.updateMask = .init(protoPaths: ["last_name"])
                        },
                        metadata: .bearer(otherAdmin)
                    )
                    let outcome = try await client.users.update(
                        id: target.id, UserUpdate(isActive: false), etag: read.etag)
                    let conflict = try #require(outcome.conflict)
                    #expect(conflict.server?.lastName == "ByOtherAdmin")
                    #expect(conflict.server?.etag == changed.user.etag)
                    #expect(conflict.local?.isActive == false)
                    #expect(conflict.local?.lastName == "ByOtherAdmin")
                    #expect(try await server.store.user(id: target.id)?.isActive == true)
                    return read.etag
                }
                var clientWins = sdkConfiguration(port: server.port, directory: directory)
                clientWins.conflictPolicy = .clientWins
                try await withClassyClient(clientWins) { client in
                    let deleted = try await client.users.delete(id: target.id, etag: staleETag)
                    guard case .applied = deleted else {
                        Issue.record("expected the delete to be applied, got \(deleted)")
                        return
                    }
                    #expect(try await server.store.user(id: target.id)?.deleted == true)
                    #expect(try await client.cache()?.user(id: target.id) == nil)
                    #expect(try await client.outbox.pending().filter { $0.operation.name == "DeleteUser" }.isEmpty)
                }
            }
        }
    }

    @Test(
        "a queued mutation the server refuses stays failed with its reason; it can be retried or discarded; updates are observable"
    )
    func failedMutationsAndStatusUpdates() async throws {
        try await Self.withRestartableServer { port, database, clock in
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: port, directory: directory)) { client in
                    let restart: (_ body: (TestServer) async throws -> Void) async throws -> Void = { body in
                        try await withTestServer(configure: { $0.port = port }, databasePath: database, clock: clock) {
                            server async throws in
                            try await client.waitUntilReachable()
                            try await body(server)
                        }
                    }
                    try await restart { server in
                        let admin = try await server.makeAccount(role: .admin)
                        try await client.auth.signIn(email: admin.email, password: TestServer.userPassword)
                    }
                    let updates = client.outbox.updates()
                    let bad = try await client.monitoring.blockIP("not-an-address", reason: "typo")
                    #expect(bad.isQueued)
                    let good = try await client.monitoring.blockIP(
                        "198.51.100.0/24", reason: "scanner", duration: .seconds(600))
                    #expect(good.isQueued)
                    try await restart { server in
                        let report = try await client.outbox.replay()
                        #expect(report.applied == 1)
                        #expect(report.failed == 1)
                        let left = try await client.outbox.pending()
                        #expect(left.count == 1)
                        guard case .failed(let error) = left.first?.state else {
                            Issue.record("expected a failed mutation, got \(String(describing: left.first?.state))")
                            return
                        }
                        #expect(error.reason == "INVALID_FIELD")
                        #expect(error.fieldViolations.map(\.field) == ["ip_address"])
                        let id = try #require(left.first).id
                        try await client.outbox.retry(id: id)
                        #expect(try await client.outbox.replay().failed == 1)
                        try await client.outbox.discard(id: id)
                        #expect(try await client.outbox.pending().isEmpty)
                        let blocks = try await client.monitoring.blockedIPs()
                        #expect(blocks.map(\.ipAddress) == ["198.51.100.0/24"])
                    }
                    var states: [String] = []
                    for await mutation in updates {
                        states.append("\(mutation.operation.name):\(Self.label(mutation.state))")
                        if mutation.state == .discarded { break }
                    }
                    #expect(
                        states == [
                            "BlockIP:pending", "BlockIP:sending", "BlockIP:pending", "BlockIP:sending",  // offline
                            "BlockIP:sending", "BlockIP:failed", "BlockIP:sending", "BlockIP:applied",
                            "BlockIP:pending", "BlockIP:sending", "BlockIP:failed", "BlockIP:discarded",
                        ]
                    )
                }
            }
        }
    }

    static func label(_ state: MutationState) -> String {
        switch state {
        case .pending: "pending"
        case .sending: "sending"
        case .applied: "applied"
        case .conflicted: "conflicted"
        case .failed: "failed"
        case .discarded: "discarded"
        }
    }
}
