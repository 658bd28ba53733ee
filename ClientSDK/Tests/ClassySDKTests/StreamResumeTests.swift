import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyStoreSQLite
import ClassyTesting
import Foundation
import GRPCCore
import Logging
import Synchronization
import Testing

@_spi(Testing) @testable import ClassySDK

/// Collects what a stream delivers, for a test to wait on.
final class Collector: Sendable {
    private let items = Mutex<[String]>([])

    var all: [String] { items.withLock { $0 } }

    func append(_ item: String) { items.withLock { $0.append(item) } }

    /// Waits (bounded) until at least `count` items arrived.
    func wait(for count: Int, seconds: Double = 30) async throws {
        try await withTimeout(seconds) {
            while self.all.count < count { try await Task.sleep(for: .milliseconds(20)) }
        }
    }
}

@Suite("SDK streams: reconnect and resume")
struct StreamResumeTests {
    @Test("WatchNotifications resumes after a server restart from its last cursor: nothing missed, nothing twice")
    func notificationsAcrossRestart() async throws {
        try await OfflineSyncTests.withRestartableServer { port, database, clock in
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: port, directory: directory)) { client in
                    let restart: (_ body: (TestServer) async throws -> Void) async throws -> Void = { body in
                        try await withTestServer(configure: { $0.port = port }, databasePath: database, clock: clock) {
                            server async throws in
                            try await client.waitUntilReachable()
                            try await body(server)
                        }
                    }
                    let collector = Collector()
                    var userID = ""
                    var watcher: Task<Void, any Error>?
                    try await restart { server in
                        let account = try await server.makeAccount()
                        userID = account.id
                        try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                        try await server.notify(account.id, "zero")
                        let newest = try #require(try await client.notifications.list().value.notifications.first)
                        let stream = client.notifications.watch(after: newest.cursor)
                        watcher = Task {
                            for try await notification in stream { collector.append(notification.title) }
                        }
                        try await server.notify(account.id, "one")
                        try await collector.wait(for: 1)
                    }
                    // While the server is down, a notification is committed (another replica, say).
                    let logger = Logger(label: "test")
                    let store = try SQLiteStore(path: database, logger: logger)
                    _ = try await TestServer.notify(store: store, clock: clock, userID, "two")
                    try await store.close()

                    try await restart { server in
                        try await server.notify(userID, "three")
                        try await collector.wait(for: 3)
                    }
                    watcher?.cancel()
                    #expect(collector.all == ["one", "two", "three"])
                    // The cursor was kept in the cache: a new stream starts after "three".
                    let stored = try await client.cache()?.get(String.self, at: OfflineCache.Key.notificationCursor)
                    #expect(stored != nil)
                    #expect(
                        try await client.cache()?.notifications(unreadOnly: false).map(\.title).contains("two") == true)
                }
            }
        }
    }

    @Test("StreamSecurityEvents resumes after a server restart from its last sequence")
    func securityEventsAcrossRestart() async throws {
        try await OfflineSyncTests.withRestartableServer { port, database, clock in
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: port, directory: directory)) { client in
                    let restart: (_ body: (TestServer) async throws -> Void) async throws -> Void = { body in
                        try await withTestServer(configure: { $0.port = port }, databasePath: database, clock: clock) {
                            server async throws in
                            try await client.waitUntilReachable()
                            try await body(server)
                        }
                    }
                    let collector = Collector()
                    var watcher: Task<Void, any Error>?
                    try await restart { server in
                        let admin = try await server.makeAccount(role: .admin)
                        try await client.auth.signIn(email: admin.email, password: TestServer.userPassword)
                        let stream = client.monitoring.securityEvents(types: [.ipBlocked], after: 0)
                        watcher = Task {
                            for try await event in stream {
                                if case .ipBlocked(let blocked) = event.kind { collector.append(blocked.ipAddress) }
                            }
                        }
                        _ = try await client.monitoring.blockIP("192.0.2.10", reason: "first")
                        try await collector.wait(for: 1)
                    }
                    try await restart { server in
                        _ = try await client.monitoring.blockIP("192.0.2.11", reason: "second")
                        _ = try await client.monitoring.blockIP("192.0.2.12", reason: "third")
                        try await collector.wait(for: 3)
                    }
                    watcher?.cancel()
                    #expect(collector.all == ["192.0.2.10", "192.0.2.11", "192.0.2.12"])
                }
            }
        }
    }
}
