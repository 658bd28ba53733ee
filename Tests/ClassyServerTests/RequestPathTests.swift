import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import GRPCProtobuf
import Logging
import Testing

/// The request path over real TCP: health, authentication, authorization, errors, request ids.
@Suite("Request path over TCP")
struct RequestPathTests {
    @Test("health answers SERVING once migrated and bound, without a token")
    func health() async throws {
        try await withTestServer { server async throws in
            let response = try await server.health.check(.with { $0.service = "" })
            #expect(response.status == .serving)
            let auth = try await server.health.check(.with { $0.service = "classy.auth.v1.AuthService" })
            #expect(auth.status == .serving)
            _ = await expectRPCError(.notFound) {
                _ = try await server.health.check(.with { $0.service = "no.such.Service" })
            }
        }
    }

    @Test("a protected RPC without a token is UNAUTHENTICATED / TOKEN_INVALID")
    func missingToken() async throws {
        try await withTestServer { server async throws in
            _ = await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init())
            }
            _ = await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init(), metadata: ["authorization": "Basic abc"])
            }
            _ = await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init(), metadata: .bearer("not.a.jwt"))
            }
        }
    }

    @Test("an expired access token is UNAUTHENTICATED / TOKEN_EXPIRED")
    func expiredToken() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
            server.clock.advance(by: 16 * 60)
            _ = await expectRPCError(.unauthenticated, .tokenExpired) {
                _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
            }
        }
    }

    @Test("a revoked session or a deactivated user is UNAUTHENTICATED / SESSION_REVOKED")
    func revokedSession() async throws {
        try await withTestServer { server async throws in
            let (user, token, sessionID) = try await server.signIn(role: .admin)
            _ = try await server.store.revokeSession(
                id: sessionID, reason: "test", now: server.clock.now(), effects: .none
            )
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
            }
            let (other, otherToken, _) = try await server.signIn(role: .admin)
            _ = try await server.store.updateUser(
                id: other.id, ifETag: nil, changes: UserChanges(isActive: false), effects: .none,
                now: server.clock.now()
            )
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.users.listUsers(.init(), metadata: .bearer(otherToken))
            }
            #expect(user.id != other.id)
        }
    }

    @Test("a call below its role is PERMISSION_DENIED / FORBIDDEN; the right role reaches the handler")
    func roleTooLow() async throws {
        try await withTestServer { server async throws in
            let (_, userToken, _) = try await server.signIn(role: .user)
            _ = await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.users.listUsers(.init(), metadata: .bearer(userToken))
            }
            _ = await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.monitoring.listLoginAttempts(.init(), metadata: .bearer(userToken))
            }
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            _ = await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.auth.createServiceAccount(.with { $0.name = "x" }, metadata: .bearer(adminToken))
            }
            // The right role reaches the handler.
            _ = try await server.monitoring.listLoginAttempts(.init(), metadata: .bearer(adminToken))
        }
    }

    @Test("service accounts reach only their RPCs; deleted accounts' tokens stop working")
    func serviceAccounts() async throws {
        try await withTestServer { server async throws in
            let (account, token) = try await server.serviceToken()
            _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
            _ = await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.users.getMe(.init(), metadata: .bearer(token))
            }
            _ = try await server.store.deleteServiceAccount(id: account.id, now: server.clock.now(), effects: .none)
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
            }
        }
    }

    @Test("a malformed idempotency-key is INVALID_ARGUMENT / INVALID_FIELD with a BadRequest violation")
    func malformedRequest() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .user)
            var metadata = Metadata.bearer(token)
            metadata.addString(String(repeating: "k", count: 500), forKey: "idempotency-key")
            let error = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.updateMe(.init(), metadata: metadata)
            }
            #expect(error?.fieldViolations.map(\.field) == ["idempotency-key"])
        }
    }

    @Test("a request over the size limit is refused")
    func oversizedRequest() async throws {
        _ = try await withTestServer(configure: { $0.maxRequestBytes = 1024 }) { server async throws in
            await #expect(throws: RPCError.self) {
                _ = try await server.auth.login(.with { $0.email = String(repeating: "a", count: 4096) })
            }
        }
    }

    @Test("x-request-id is echoed, and generated when absent")
    func requestID() async throws {
        try await withTestServer { server async throws in
            let echoed = try await server.health.check(
                .init(), metadata: ["x-request-id": "req-123"]
            ) { response in response.metadata[stringValues: "x-request-id"].first { _ in true } }
            #expect(echoed == "req-123")
            let generated = try await server.health.check(.init()) { response in
                response.metadata[stringValues: "x-request-id"].first { _ in true }
            }
            #expect(generated?.isEmpty == false)
        }
    }

    @Test("each RPC's outcome is logged: successes at debug level only, failures at info with their reason")
    func outcomeLogging() async throws {
        for level in [Logger.Level.debug, .info] {
            let logs = CapturedLogs()
            try await withTestServer(logger: logs.logger(level: level)) { server async throws in
                _ = try await server.health.check(.init(), metadata: ["x-request-id": "ok-1"])
                _ = await expectRPCError(.unauthenticated) {
                    _ = try await server.users.getMe(.init(), metadata: ["x-request-id": "failed-1"])
                }
            }
            let finished = logs.records.filter { $0.message == "rpc finished" && $0.metadata["request_id"] == "ok-1" }
            let failed = logs.records.filter { $0.message == "rpc failed" && $0.metadata["request_id"] == "failed-1" }
            if level == .debug {
                #expect(finished.count == 1)
                #expect(finished.first?.metadata["status"] == "OK")
                #expect(finished.first?.metadata["method"] == "grpc.health.v1.Health/Check")
                #expect(Double(finished.first?.metadata["duration_ms"] ?? "") != nil)
            } else {
                #expect(finished.isEmpty)
            }
            #expect(failed.count == 1, "at \(level)")
            #expect(failed.first?.level == .info)
            #expect(failed.first?.metadata["status"] == "unauthenticated", "\(failed)")
            #expect(failed.first?.metadata["reason"] == "TOKEN_INVALID", "\(failed)")
        }
    }

    @Test("the primary super admin is created once, on the first start of an empty database")
    func primaryAdminSeeded() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-seed-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("db.sqlite").path
        let firstID = try await withTestServer(databasePath: path) { server async throws in
            let admin = try #require(try await server.store.primaryAdmin())
            #expect(admin.email == TestServer.adminEmail)
            #expect(admin.role == .superAdmin)
            #expect(
                try await server.runtime.passwordHasher.verify(TestServer.adminPassword, against: admin.passwordHash))
            return admin.id
        }
        try await withTestServer(databasePath: path) { server async throws in
            #expect(try await server.store.primaryAdmin()?.id == firstID)
            #expect(try await server.store.countUsers(includeDeleted: true) == 1)
            if case .existing = server.runtime.seedOutcome {} else { Issue.record("seeded twice") }
        }
    }
}
