import ClassyAPI
import ClassyCore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

@_spi(Testing) @testable import ClassySDK

@Suite("SDK tokens: refresh, sign-out")
struct TokenRefreshTests {
    static let refresh = "classy.auth.v1.AuthService/Refresh"

    @Test("100 concurrent calls with an expired access token cause exactly one Refresh RPC on the server")
    func oneRefreshForConcurrentCalls() async throws {
        try await withTestServer(configure: { $0.metricsPort = 0 }) { server async throws in
            let account = try await server.makeAccount()
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    // The server's clock passes the access token's expiry; the app's clock does not, so
                    // every call goes out with the old token and meets TOKEN_EXPIRED.
                    server.clock.advance(by: 16 * 60)
                    let names = try await withThrowingTaskGroup(of: String.self) { group in
                        for _ in 0..<100 {
                            group.addTask { try await client.users.me().value.email }
                        }
                        return try await group.reduce(into: [String]()) { $0.append($1) }
                    }
                    #expect(names.count == 100)
                    #expect(Set(names) == [account.email])
                    #expect(try await server.finishedRPCs(Self.refresh) == 1)
                    #expect(try await server.finishedRPCs("classy.users.v1.UsersService/GetMe") >= 100)
                    // The new tokens were saved.
                    let saved = try #require(try client.configuration.tokenStore.load())
                    #expect(saved.accessTokenExpireTime > server.clock.now())
                }
            }
        }
    }

    @Test("a token about to expire is refreshed before the call; the token file is 0600")
    func proactiveRefresh() async throws {
        try await withTestServer(configure: { $0.metricsPort = 0 }) { server async throws in
            let account = try await server.makeAccount()
            try await withTemporaryDirectory { directory in
                let clock = SDKClock()
                var configuration = sdkConfiguration(port: server.port, directory: directory)
                configuration.now = { clock.now }
                try await withClassyClient(configuration) { client in
                    try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    let tokenFile = directory.appendingPathComponent("tokens.json").path
                    let attributes = try FileManager.default.attributesOfItem(atPath: tokenFile)
                    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
                    let before = try #require(try client.configuration.tokenStore.load())
                    _ = try await client.users.me()
                    #expect(try await server.finishedRPCs(Self.refresh) == 0)
                    // 14.5 minutes later the token has 30 s left: less than the 60 s leeway.
                    clock.advance(by: 14 * 60 + 30)
                    _ = try await client.users.me()
                    #expect(try await server.finishedRPCs(Self.refresh) == 1)
                    #expect(
                        try await server.finishedRPCs("classy.users.v1.UsersService/GetMe") == 2,
                        "no call was refused first"
                    )
                    let after = try #require(try client.configuration.tokenStore.load())
                    #expect(after.refreshToken != before.refreshToken)
                }
            }
        }
    }

    @Test("a reused refresh token signs the app out with REFRESH_TOKEN_REUSED and clears the tokens")
    func reuseSignsOut() async throws {
        try await withTestServer { server async throws in
            let account = try await server.makeAccount()
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    let states = client.authState
                    let stolen = try #require(try client.configuration.tokenStore.load()).refreshToken
                    // Someone else rotates the app's refresh token; after the grace window the app's copy is stale.
                    _ = try await server.auth.refresh(.with { $0.refreshToken = stolen })
                    server.clock.advance(by: 16 * 60)
                    await expectClientError("REFRESH_TOKEN_REUSED") { _ = try await client.users.me() }
                    #expect(client.currentAuthState == .signedOut(.refreshTokenReused))
                    #expect(try client.configuration.tokenStore.load() == nil)
                    var seen: [AuthState] = []
                    for await state in states {
                        seen.append(state)
                        if case .signedOut = state { break }
                    }
                    #expect(seen.last == .signedOut(.refreshTokenReused))
                    await expectClientError("SIGNED_OUT") { _ = try await client.users.me() }
                }
            }
        }
    }

    @Test("a refresh that completes after sign-out never revives the session")
    func signOutRace() async throws {
        try await withTestServer(configure: { $0.metricsPort = 0 }) { server async throws in
            let account = try await server.makeAccount()
            try await withTemporaryDirectory { directory in
                let reached = Gate()
                let release = Gate()
                var configuration = sdkConfiguration(port: server.port, directory: directory)
                configuration.hooks.afterRefreshRPC = {
                    reached.open()
                    await release.wait()
                }
                try await withClassyClient(configuration) { client in
                    try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    server.clock.advance(by: 16 * 60)
                    let call = Task { try await client.users.me() }
                    try await withTimeout { await reached.wait() }
                    // The Refresh RPC has returned new tokens; the app signs out before they are applied.
                    try await client.auth.signOut()
                    release.open()
                    await expectClientError("SIGNED_OUT") { _ = try await call.value }
                    #expect(try await server.finishedRPCs(Self.refresh) == 1)
                    #expect(client.currentAuthState == .signedOut(.userSignedOut))
                    #expect(try client.configuration.tokenStore.load() == nil)
                    #expect(await client.account == nil)
                    await expectClientError("SIGNED_OUT") { _ = try await client.users.me() }
                }
            }
        }
    }

    @Test("SESSION_REVOKED from the server, or a session-revoked notification, signs the app out")
    func sessionRevoked() async throws {
        try await withTestServer { server async throws in
            let account = try await server.makeAccount()
            let adminToken = try await server.signIn(role: .admin).accessToken
            try await withTemporaryDirectory { directory in
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    // 1. A call answered SESSION_REVOKED.
                    try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    let first = try #require(await client.account).sessionID
                    _ = try await server.auth.revokeSession(
                        .with { $0.sessionID = first }, metadata: .bearer(adminToken))
                    await expectClientError("SESSION_REVOKED") { _ = try await client.users.me() }
                    #expect(client.currentAuthState == .signedOut(.sessionRevoked))

                    // 2. The notification stream tells the app its session was revoked.
                    try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    let second = try #require(await client.account).sessionID
                    try await server.notify(account.id, "before")
                    let newest = try #require(try await client.notifications.list().value.notifications.first)
                    let connected = Gate()
                    let stream = client.notifications.watch(after: newest.cursor)
                    let kinds = Task {
                        var kinds: [NotificationKind] = []
                        for try await notification in stream {
                            kinds.append(notification.kind)
                            connected.open()
                        }
                        return kinds
                    }
                    let states = client.authState
                    try await server.notify(account.id, "hello")
                    try await withTimeout { await connected.wait() }
                    _ = try await server.auth.revokeSession(
                        .with { $0.sessionID = second }, metadata: .bearer(adminToken))
                    try await withTimeout {
                        for await state in states where state == .signedOut(.sessionRevoked) { return }
                    }
                    let received = try await withTimeout { try await kinds.value }
                    #expect(received.last == .sessionRevoked)
                    #expect(try client.configuration.tokenStore.load() == nil)
                }
            }
        }
    }
}
