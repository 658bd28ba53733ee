import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyStore
import ClassyStoreSQLite
import ClassyTesting
import Foundation
import GRPCCore
import GRPCInProcessTransport
import Synchronization
import Testing

@testable import ClassyServer

/// The real interceptor pipeline in front of a probe service, over the in-process transport.
@Suite("Interceptor pipeline in process")
struct InProcessPipelineTests {
    /// A UsersService whose handlers report what the request path gave them.
    final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int {
            value.withLock {
                $0 += 1; return $0
            }
        }
        var current: Int { value.withLock { $0 } }
    }

    struct ProbeService: Classy_Users_V1_UsersService.SimpleServiceProtocol {
        let updateCalls = Counter()

        func getMe(
            request: Classy_Users_V1_GetMeRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_GetMeResponse
        {
            let caller = try RequestContext.requireCaller()
            return .with { $0.user.id = caller.userID }
        }

        func updateMe(
            request: Classy_Users_V1_UpdateMeRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_UpdateMeResponse
        {
            let count = updateCalls.next()
            return .with { $0.user.firstName = "call \(count)" }
        }

        func watchNotifications(
            request: Classy_Users_V1_WatchNotificationsRequest,
            response: RPCWriter<Classy_Users_V1_Notification>,
            context: ServerContext
        ) async throws {
            // Runs inside the response producer, after the interceptors returned.
            for index in 0..<3 {
                try await Task.sleep(for: .milliseconds(5))
                let context = RequestContext.current
                try await response.write(
                    .with {
                        $0.id = "\(index)"
                        $0.data["user_id"] = context?.caller?.userID ?? "none"
                        $0.data["role"] = context?.caller?.role.claim ?? "none"
                        $0.data["request_id"] = context?.requestID ?? "none"
                    }
                )
            }
        }

        func listUsers(
            request: Classy_Users_V1_ListUsersRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_ListUsersResponse
        { throw StoreError.unavailable("the database is down") }

        func getUser(
            request: Classy_Users_V1_GetUserRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_GetUserResponse
        { throw StoreError.notFound("user") }

        func createUser(
            request: Classy_Users_V1_CreateUserRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_CreateUserResponse
        { throw CancellationError() }

        func updateUser(
            request: Classy_Users_V1_UpdateUserRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_UpdateUserResponse
        {
            struct Secret: Error { let detail = "do not leak me" }
            throw Secret()
        }

        func deleteUser(
            request: Classy_Users_V1_DeleteUserRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_DeleteUserResponse
        { .init() }

        func listUserChanges(
            request: Classy_Users_V1_ListUserChangesRequest, context: ServerContext
        ) async throws
            -> Classy_Users_V1_ListUserChangesResponse
        { .init() }

        func listNotifications(
            request: Classy_Users_V1_ListNotificationsRequest, context: ServerContext
        )
            async throws -> Classy_Users_V1_ListNotificationsResponse
        { .init() }

        func markNotificationsRead(
            request: Classy_Users_V1_MarkNotificationsReadRequest, context: ServerContext
        )
            async throws -> Classy_Users_V1_MarkNotificationsReadResponse
        { .init() }
    }

    /// Runs `body` with a client of the probe service behind the real pipeline.
    func withPipeline(
        _ body: (Classy_Users_V1_UsersService.Client<InProcessTransport.Client>, ProbeService, TestFixtures)
            async throws -> Void
    ) async throws {
        let clock = ManualClock()
        let store = try SQLiteStore.inMemory()
        try await store.migrate()
        let tokens = try TokenService(
            keys: [TokenService.generateKeyMaterial(keyID: "k1", now: clock.now())], clock: clock
        )
        let probe = ProbeService()
        let transport = InProcessTransport()
        let server = GRPCServer(
            transport: transport.server,
            services: [probe],
            interceptorPipeline: ClassyServerRuntime.interceptors(
                configuration: ServerConfiguration(), tokens: tokens, store: store, clock: clock,
                logger: .init(label: "test")
            )
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            try await withGRPCClient(transport: transport.client) { client in
                try await body(.init(wrapping: client), probe, TestFixtures(store: store, tokens: tokens, clock: clock))
            }
            server.beginGracefulShutdown()
        }
    }

    struct TestFixtures {
        let store: SQLiteStore
        let tokens: TokenService
        let clock: ManualClock

        func token(role: Role) async throws -> (userID: String, token: String) {
            let now = clock.now()
            let user = try await store.createUser(
                NewUser(
                    email: "\(UUID().uuidString.prefix(8))@classy.test", passwordHash: "x", firstName: "", lastName: "",
                    role: role, createTime: now
                ),
                effects: .none
            )
            let session = try await store.createSession(
                SessionRecord(
                    userID: user.id, ipAddress: "127.0.0.1", createTime: now,
                    expireTime: now.addingTimeInterval(3600), currentRefreshHash: UUID().uuidString
                ),
                effects: .none
            )
            return (user.id, try tokens.issueAccessToken(userID: user.id, sessionID: session.id, role: role).token)
        }
    }

    @Test("the caller's identity reaches unary handlers through the task-local")
    func unaryCaller() async throws {
        try await withPipeline { client, _, fixtures in
            let (userID, token) = try await fixtures.token(role: .user)
            let response = try await client.getMe(.init(), metadata: .bearer(token))
            #expect(response.user.id == userID)
        }
    }

    @Test("the caller's identity reaches streaming handlers (inside the response producer)")
    func streamingCaller() async throws {
        try await withPipeline { client, _, fixtures in
            let (userID, token) = try await fixtures.token(role: .admin)
            var metadata = Metadata.bearer(token)
            metadata.addString("stream-req", forKey: "x-request-id")
            let received = try await client.watchNotifications(.init(), metadata: metadata) { response in
                var items: [Classy_Users_V1_Notification] = []
                for try await item in response.messages { items.append(item) }
                return items
            }
            #expect(received.count == 3)
            for item in received {
                #expect(item.data["user_id"] == userID)
                #expect(item.data["role"] == "admin")
                #expect(item.data["request_id"] == "stream-req")
            }
        }
    }

    @Test("a repeated idempotency-key replays the first response without running the handler again")
    func idempotencyReplay() async throws {
        try await withPipeline { client, probe, fixtures in
            let (_, token) = try await fixtures.token(role: .user)
            var metadata = Metadata.bearer(token)
            metadata.addString("key-1", forKey: "idempotency-key")
            let first = try await client.updateMe(.init(), metadata: metadata)
            let second = try await client.updateMe(.init(), metadata: metadata)
            #expect(first.user.firstName == "call 1")
            #expect(second == first)
            #expect(probe.updateCalls.current == 1)
            // Another key, or another caller with the same key, runs the handler.
            var other = Metadata.bearer(token)
            other.addString("key-2", forKey: "idempotency-key")
            #expect(try await client.updateMe(.init(), metadata: other).user.firstName == "call 2")
            let (_, otherToken) = try await fixtures.token(role: .user)
            var otherCaller = Metadata.bearer(otherToken)
            otherCaller.addString("key-1", forKey: "idempotency-key")
            #expect(try await client.updateMe(.init(), metadata: otherCaller).user.firstName == "call 3")
            // The same key on another RPC is refused.
            _ = await expectRPCError(.invalidArgument, .idempotencyKeyReused) {
                _ = try await client.markNotificationsRead(.init(), metadata: metadata)
            }
        }
    }

    @Test("store and unexpected errors become the documented codes without leaking details")
    func errorMapping() async throws {
        try await withPipeline { client, _, fixtures in
            let (_, token) = try await fixtures.token(role: .admin)
            let unavailable = await expectRPCError(.unavailable, .storeUnavailable) {
                _ = try await client.listUsers(.init(), metadata: .bearer(token))
            }
            #expect(unavailable?.retryAfter != nil)
            _ = await expectRPCError(.notFound, .notFound) {
                _ = try await client.getUser(.init(), metadata: .bearer(token))
            }
            let internalError = await expectRPCError(.internalError, .internal) {
                _ = try await client.updateUser(.init(), metadata: .bearer(token))
            }
            #expect(internalError?.message.contains("do not leak me") == false)
        }
    }
}
