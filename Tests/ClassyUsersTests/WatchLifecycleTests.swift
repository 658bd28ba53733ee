import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import ClassyUsers
import Foundation
import GRPCCore
import Testing

/// WatchNotifications' heartbeats and endings, driven directly against a service with a short
/// heartbeat interval (the server's own instance uses 15 s) over the test server's store.
@Suite("WatchNotifications lifecycle")
struct WatchLifecycleTests {
    /// Collects what the handler writes.
    struct Collector: RPCWriterProtocol {
        let continuation: AsyncStream<Classy_Users_V1_Notification>.Continuation

        func write(_ element: Classy_Users_V1_Notification) async throws {
            continuation.yield(element)
        }

        func write(contentsOf elements: some Sequence<Classy_Users_V1_Notification>) async throws {
            for element in elements { continuation.yield(element) }
        }
    }

    /// A running WatchNotifications handler.
    struct Watch {
        let task: Task<Void, any Error>
        let messages: AsyncStream<Classy_Users_V1_Notification>
        let cancellation: ServerContext.RPCCancellationHandle
    }

    static func startWatch(
        _ service: UsersService,
        user: UserRecord,
        sessionID: String,
        afterCursor: String = ""
    ) -> Watch {
        let (messages, continuation) = AsyncStream.makeStream(of: Classy_Users_V1_Notification.self)
        let cancellation = ServerContext.RPCCancellationHandle()
        let context = ServerContext(
            descriptor: Classy_Users_V1_UsersService.Method.WatchNotifications.descriptor,
            remotePeer: "ipv4:127.0.0.1:1",
            localPeer: "ipv4:127.0.0.1:2",
            cancellation: cancellation
        )
        let request = RequestContext(
            requestID: "test",
            clientIP: "127.0.0.1",
            caller: Caller(
                userID: user.id, sessionID: sessionID, role: user.role, tokenID: "test",
                expireTime: Date().addingTimeInterval(900)
            ),
            method: "classy.users.v1.UsersService/WatchNotifications"
        )
        let task = Task {
            defer { continuation.finish() }
            try await RequestContext.$current.withValue(request) {
                try await service.watchNotifications(
                    request: .with { $0.afterCursor = afterCursor },
                    response: RPCWriter(wrapping: Collector(continuation: continuation)),
                    context: context
                )
            }
        }
        return Watch(task: task, messages: messages, cancellation: cancellation)
    }

    static func service(_ server: TestServer) -> UsersService {
        UsersService(
            store: server.store,
            clock: server.clock,
            passwordHasher: server.runtime.passwordHasher,
            heartbeatInterval: .milliseconds(50)
        )
    }

    static func isHeartbeat(_ message: Classy_Users_V1_Notification) -> Bool {
        message.kind == .unspecified && message.id.isEmpty && message.cursor.isEmpty
    }

    @Test("an empty cursor streams only new notifications; heartbeats are UNSPECIFIED with empty id and cursor")
    func liveOnlyWithHeartbeats() async throws {
        try await withTestServer { server async throws in
            let (user, _, sessionID) = try await server.signIn(role: .user)
            try await NotificationTests.notify(server, user.id, "old")
            let watch = Self.startWatch(Self.service(server), user: user, sessionID: sessionID)
            try await withTimeout {
                var messages = watch.messages.makeAsyncIterator()
                // The first heartbeat comes from the live loop, so the stream's start position is fixed.
                let first = try #require(await messages.next())
                #expect(Self.isHeartbeat(first), "\(first)")
                let new = try await NotificationTests.notify(server, user.id, "new")
                var heartbeats = 1
                while let message = await messages.next() {
                    if Self.isHeartbeat(message) {
                        heartbeats += 1
                        continue
                    }
                    #expect(message.id == new.id)
                    #expect(message.title == "new")
                    break
                }
                while heartbeats < 3, let message = await messages.next() {
                    #expect(Self.isHeartbeat(message), "no other notification may arrive: \(message)")
                    heartbeats += 1
                }
                #expect(heartbeats >= 3)
            }
            // The client goes away: the handler ends without an error.
            watch.cancellation.cancel()
            try await withTimeout { try await watch.task.value }
        }
    }

    @Test("server shutdown ends open streams cleanly, and later ones at once")
    func shutdownEndsStreams() async throws {
        try await withTestServer { server async throws in
            let (user, _, sessionID) = try await server.signIn(role: .user)
            let service = Self.service(server)
            let watches = (0..<3).map { _ in Self.startWatch(service, user: user, sessionID: sessionID) }
            for watch in watches {
                try await withTimeout {
                    var messages = watch.messages.makeAsyncIterator()
                    let first = await messages.next()
                    #expect(first.map(Self.isHeartbeat) == true)
                }
            }
            service.finishNotificationStreams()
            for watch in watches {
                try await withTimeout { try await watch.task.value }
            }
            let late = Self.startWatch(service, user: user, sessionID: sessionID)
            try await withTimeout { try await late.task.value }
            var messages = late.messages.makeAsyncIterator()
            #expect(await messages.next() == nil)
        }
    }

    @Test("a stream whose session is revoked without a notification ends at the next heartbeat")
    func revokedSessionEndsAtHeartbeat() async throws {
        try await withTestServer { server async throws in
            let (user, _, sessionID) = try await server.signIn(role: .user)
            let watch = Self.startWatch(Self.service(server), user: user, sessionID: sessionID)
            try await withTimeout {
                var messages = watch.messages.makeAsyncIterator()
                _ = await messages.next()
            }
            _ = try await server.store.revokeSession(id: sessionID, reason: "test", now: server.clock.now())
            do {
                try await withTimeout { try await watch.task.value }
                Issue.record("the stream outlived its session")
            } catch let error as ClassyError {
                #expect(error.code == .sessionRevoked)
            }
        }
    }

    @Test("a forged after_cursor is INVALID_FIELD")
    func forgedCursor() async throws {
        try await withTestServer { server async throws in
            let (user, _, sessionID) = try await server.signIn(role: .user)
            let watch = Self.startWatch(Self.service(server), user: user, sessionID: sessionID, afterCursor: "%%%")
            do {
                try await withTimeout { try await watch.task.value }
                Issue.record("a forged cursor was accepted")
            } catch let error as ClassyError {
                #expect(error.code == .invalidField)
                #expect(error.fieldViolations.map(\.field) == ["after_cursor"])
            }
        }
    }
}
