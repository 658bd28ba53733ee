import ClassyAPI
import ClassyCore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

@_spi(Testing) @testable import ClassySDK

@Suite("SDK: errors, user directory cache, background sync")
struct CacheAndErrorTests {
    @Test("ClassyClientError carries the reason, field violations and retry-after")
    func typedErrors() async throws {
        try await withTestServer { server async throws in
            let account = try await server.makeAccount()
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    do {
                        try await client.auth.register(
                            email: "not an email", password: "x", firstName: "", lastName: "L")
                        Issue.record("Register accepted bad input")
                    } catch let error as ClassyClientError {
                        #expect(error.status == .invalidArgument)
                        #expect(error.reason == "INVALID_FIELD")
                        #expect(Set(error.fieldViolations.map(\.field)).isSuperset(of: ["email", "password"]))
                    }
                    for _ in 0..<5 {
                        await expectClientError("INVALID_CREDENTIALS") {
                            try await client.auth.signIn(email: account.email, password: "wrong password!")
                        }
                    }
                    do {
                        try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                        Issue.record("a locked account signed in")
                    } catch let error as ClassyClientError {
                        #expect(error.status == .resourceExhausted)
                        #expect(error.reason == "ACCOUNT_LOCKED")
                        let retry = try #require(error.retryAfter)
                        #expect(retry > .zero)
                        #expect(!error.isOffline)
                    }
                    #expect(client.currentAuthState == .signedOut(.notSignedIn))
                    await expectClientError("SIGNED_OUT") { _ = try await client.users.me() }
                }
            }
        }
    }

    @Test("the user directory follows ListUserChanges (updates, deletions) and is read from the cache offline")
    func directory() async throws {
        try await withTestServer { server async throws in
            let admin = try await server.makeAccount(role: .admin)
            let adminToken = try await server.signIn(role: .admin).accessToken
            let alice = try await server.makeAccount()
            let bob = try await server.makeAccount()
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    try await client.auth.signIn(email: admin.email, password: TestServer.userPassword)
                    let first = try await client.users.directory()
                    #expect(!first.isStale)
                    #expect(Set([admin.email, alice.email, bob.email]).isSubset(of: first.value.map(\.email)))

                    let current = try await server.users.getUser(
                        .with { $0.userID = bob.id }, metadata: .bearer(adminToken))
                    _ = try await server.users.deleteUser(
                        .with {
                            $0.userID = bob.id
                            $0.etag = current.user.etag
                        },
                        metadata: .bearer(adminToken)
                    )
                    let aliceNow = try await server.users.getUser(
                        .with { $0.userID = alice.id }, metadata: .bearer(adminToken))
                    _ = try await server.users.updateUser(
                        .with {
                            $0.user.id = alice.id
                            $0.user.etag = aliceNow.user.etag
                            $0.user.firstName = "Alicia"
                            $0.updateMask = .init(protoPaths: ["first_name"])
                        },
                        metadata: .bearer(adminToken)
                    )
                    #expect(try await client.users.refreshDirectory() == 2)
                    #expect(try await client.users.refreshDirectory() == 0, "the cursor moved past both changes")
                    let second = try await client.users.directory(matching: "Alicia")
                    #expect(second.value.map(\.id) == [alice.id])
                    #expect(try await client.users.directory().value.contains { $0.id == bob.id } == false)
                    // One cache file per account, readable by the owner only.
                    let file = directory.appendingPathComponent("cache/\(admin.id).sqlite").path
                    let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber
                    #expect(mode?.intValue == 0o600)
                }
                // The same account and cache, with the server out of reach (nothing listens on port 1).
                try await withClassyClient(sdkConfiguration(port: 1, directory: directory)) { client in
                    #expect(await client.account?.email == admin.email)
                    let offline = try await client.users.directory(matching: "alicia")
                    #expect(offline.isStale)
                    #expect(offline.value.map(\.id) == [alice.id])
                    let one = try await client.users.get(id: alice.id)
                    #expect(one.isStale)
                    #expect(one.value.firstName == "Alicia")
                    await expectClientError("OFFLINE") { _ = try await client.users.list() }
                }
            }
        }
    }

    @Test("with autoSync on, a mutation queued offline is applied in the background once the server is back")
    func backgroundSync() async throws {
        try await OfflineSyncTests.withRestartableServer { port, database, clock in
            try await withTemporaryDirectory { directory in
                var configuration = sdkConfiguration(port: port, directory: directory)
                configuration.autoSync = true
                configuration.syncInterval = .milliseconds(200)
                var userID = ""
                try await withTestServer(configure: { $0.port = port }, databasePath: database, clock: clock) {
                    server async throws in
                    let account = try await server.makeAccount()
                    userID = account.id
                    try await withClassyClient(configuration) { client in
                        try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                        _ = try await client.users.me()
                    }
                }
                try await withClassyClient(configuration) { client in
                    let updates = client.outbox.updates()
                    let outcome = try await client.users.updateMe(lastName: "Background")
                    #expect(outcome.isQueued)
                    try await withTestServer(configure: { $0.port = port }, databasePath: database, clock: clock) {
                        server async throws in
                        try await withTimeout(60) {
                            for await mutation in updates where mutation.state == .applied { return }
                        }
                        #expect(try await server.store.user(id: userID)?.lastName == "Background")
                        #expect(try await client.outbox.pending().isEmpty)
                    }
                }
            }
        }
    }
}
