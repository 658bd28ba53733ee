import ClassyAPI
import ClassyCore
import ClassyServer
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

/// The brute-force defence and rate limits through Login over real TCP, with the server's fake clock.
@Suite("Brute force and rate limits over TCP")
struct BruteForceLoginTests {
    @Test("concurrent wrong guesses for one account: exactly 5 are checked, the rest ACCOUNT_LOCKED")
    func concurrentGuesses() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (user, _, _) = try await server.signIn(role: .user)
            let reasons = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        do {
                            _ = try await server.auth.login(
                                loginRequest(user.email, "wrong password \(index)"),
                                metadata: .from("198.51.100.\(index + 1)")
                            )
                            return "OK"
                        } catch let error as RPCError {
                            let details = ClassyError(error)
                            if details?.code == .accountLocked { #expect(details?.retryAfter == .seconds(60)) }
                            return details?.code.reason ?? "\(error.code)"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(reasons.filter { $0 == "INVALID_CREDENTIALS" }.count == 5)
            #expect(reasons.filter { $0 == "ACCOUNT_LOCKED" }.count == 25)

            // Locked even for the right password, until the lock ends.
            let locked = await expectRPCError(.resourceExhausted, .accountLocked) {
                _ = try await server.auth.login(loginRequest(user.email, TestServer.userPassword))
            }
            #expect(locked?.retryAfter == .seconds(60))
            server.clock.advance(by: 60)
            let signedIn = try await server.auth.login(loginRequest(user.email, TestServer.userPassword))
            #expect(signedIn.user.id == user.id)

            let notifications = try await server.store.notifications(userID: user.id, after: 0, limit: 10)
            #expect(notifications.map(\.kind).contains(Classy_Users_V1_NotificationKind.accountLocked.storeValue))
            let attempts = try await server.store.listLoginAttempts(.init(email: user.email, limit: 100))
            #expect(attempts.count == 32)
            #expect(attempts.filter { $0.failureReason == "account_locked" }.count == 26)
            #expect(attempts.first?.success == true)
        }
    }

    @Test("the 20th failure from an IP still answers INVALID_CREDENTIALS; its next RPC is IP_BLOCKED")
    func ipBlockAfterTwenty() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let attacker = "203.0.113.66"
            for index in 1...20 {
                await expectRPCError(.unauthenticated, .invalidCredentials) {
                    _ = try await server.auth.login(
                        loginRequest("guess\(index)@classy.test", "nope nope"), metadata: .from(attacker))
                }
            }
            let blocked = await expectRPCError(.permissionDenied, .ipBlocked) {
                _ = try await server.users.getMe(.init(), metadata: .from(attacker))
            }
            #expect(blocked?.retryAfter == .seconds(900))
            await expectRPCError(.permissionDenied, .ipBlocked) {
                _ = try await server.auth.login(
                    loginRequest("guess21@classy.test", "nope nope"), metadata: .from(attacker))
            }
            #expect(try await server.health.check(.init(), metadata: .from(attacker)).status == .serving)

            // The refused Login was recorded, with its email, without counting.
            let refused = try await server.store.listLoginAttempts(.init(email: "guess21@classy.test"))
            #expect(refused.map(\.failureReason) == ["ip_blocked"])
            #expect(refused.first?.ipAddress == attacker)
            let blocks = try await server.monitoring.listBlockedIPs(.init(), metadata: .bearer(adminToken)).blockedIps
            #expect(blocks.map(\.ipAddress) == [attacker])
            #expect(blocks.first?.attempts == 20)

            // An admin lifts it: the next RPC goes through.
            _ = try await server.monitoring.unblockIP(.with { $0.ipAddress = attacker }, metadata: .bearer(adminToken))
            await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await server.auth.login(
                    loginRequest("guess22@classy.test", "nope nope"), metadata: .from(attacker))
            }
        }
    }

    @Test("40 concurrent legitimate logins from one address (a NAT) all succeed, and nothing is blocked")
    func concurrentLegitimateBurst() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            var emails: [String] = []
            for _ in 0..<40 { emails.append(try await server.signIn(role: .user).user.email) }
            let office = "198.51.100.200"
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for email in emails {
                    group.addTask {
                        do {
                            _ = try await server.auth.login(
                                loginRequest(email, TestServer.userPassword), metadata: .from(office)
                            )
                            return "OK"
                        } catch let error as RPCError {
                            return ClassyError(error)?.code.reason ?? "\(error.code)"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes == Array(repeating: "OK", count: 40))
            let blocks = try await server.monitoring.listBlockedIPs(.init(), metadata: .bearer(adminToken))
            #expect(blocks.blockedIps.isEmpty)
            let attempts = try await server.store.listLoginAttempts(.init(ipAddress: office, limit: 100))
            #expect(attempts.count == 40)
            #expect(attempts.allSatisfy { $0.success })
        }
    }

    @Test("a typo among 19 concurrent good logins from one address blocks nothing")
    func typoInBurst() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            var emails: [String] = []
            for _ in 0..<19 { emails.append(try await server.signIn(role: .user).user.email) }
            let office = "198.51.100.201"
            let typist = try await server.signIn(role: .user).user.email
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for (email, password) in emails.map({ ($0, TestServer.userPassword) }) + [(typist, "wrong password")] {
                    group.addTask {
                        do {
                            _ = try await server.auth.login(loginRequest(email, password), metadata: .from(office))
                            return "OK"
                        } catch let error as RPCError {
                            return ClassyError(error)?.code.reason ?? "\(error.code)"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "OK" }.count == 19)
            #expect(outcomes.filter { $0 == "INVALID_CREDENTIALS" }.count == 1)
            let blocks = try await server.monitoring.listBlockedIPs(.init(), metadata: .bearer(adminToken))
            #expect(blocks.blockedIps.isEmpty)
            _ = try await server.auth.login(loginRequest(typist, TestServer.userPassword), metadata: .from(office))
        }
    }

    @Test("25 concurrent wrong guesses from one address: 20 are checked, the IP is blocked once, 5 are refused")
    func concurrentGuessesFromOneAddress() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let attacker = "203.0.113.77"
            let reasons = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<25 {
                    group.addTask {
                        do {
                            _ = try await server.auth.login(
                                loginRequest("victim\(index)@classy.test", "nope nope"), metadata: .from(attacker)
                            )
                            return "OK"
                        } catch let error as RPCError {
                            return ClassyError(error)?.code.reason ?? "\(error.code)"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(reasons.filter { $0 == "INVALID_CREDENTIALS" }.count == 20)
            #expect(reasons.filter { $0 == "IP_BLOCKED" }.count == 5)
            let blocks = try await server.monitoring.listBlockedIPs(.init(), metadata: .bearer(adminToken)).blockedIps
            #expect(blocks.map(\.ipAddress) == [attacker])
            #expect(blocks.first?.attempts == 20)
            #expect(try await server.store.blockCount(ipAddress: attacker, since: .distantPast) == 1)
        }
    }

    @Test("IPv6 clients are blocked by /64 through Login")
    func ipv6Block() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            for index in 1...20 {
                await expectRPCError(.unauthenticated, .invalidCredentials) {
                    _ = try await server.auth.login(
                        loginRequest("v6-\(index)@classy.test", "nope nope"), metadata: .from("2001:db8:77:1::\(index)")
                    )
                }
            }
            await expectRPCError(.permissionDenied, .ipBlocked) {
                _ = try await server.users.getMe(.init(), metadata: .from("2001:db8:77:1:ffff::1"))
            }
            await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init(), metadata: .from("2001:db8:77:2::1"))
            }
        }
    }

    @Test("an admin unlock lets the right password in at once")
    func unlockThroughMonitoring() async throws {
        try await withTestServer { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let (user, _, _) = try await server.signIn(role: .user)
            for _ in 1...5 {
                await expectRPCError(.unauthenticated, .invalidCredentials) {
                    _ = try await server.auth.login(loginRequest(user.email, "not my password"))
                }
            }
            await expectRPCError(.resourceExhausted, .accountLocked) {
                _ = try await server.auth.login(loginRequest(user.email, TestServer.userPassword))
            }
            _ = try await server.monitoring.unlockAccount(
                .with { $0.email = user.email }, metadata: .bearer(adminToken))
            _ = try await server.auth.login(loginRequest(user.email, TestServer.userPassword))
        }
    }

    @Test("rate limits: a burst of 30 Logins per IP, then RATE_LIMITED with RetryInfo (recorded, not counted)")
    func loginRateLimit() async throws {
        try await withTestServer(configure: { configuration in
            configuration.trustLoopbackProxy()
            configuration.rateLimitEnabled = true
            // Only rate limits act here: the address is never counted toward a block.
            configuration.bruteForce.allowList = [IPNetwork("192.0.2.0/24")!]
        }) { server async throws in
            let client = "192.0.2.10"
            for index in 1...30 {
                await expectRPCError(.unauthenticated, .invalidCredentials) {
                    _ = try await server.auth.login(
                        loginRequest("rl\(index)@classy.test", "nope nope"), metadata: .from(client))
                }
            }
            let limited = await expectRPCError(.resourceExhausted, .rateLimited) {
                _ = try await server.auth.login(loginRequest("rl31@classy.test", "nope nope"), metadata: .from(client))
            }
            #expect(limited?.retryAfter == .milliseconds(100))
            let recorded = try await server.store.listLoginAttempts(.init(email: "rl31@classy.test"))
            #expect(recorded.map(\.failureReason) == ["rate_limited"])
            // Other addresses have their own buckets; Health is never limited.
            await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await server.auth.login(
                    loginRequest("rl@classy.test", "nope nope"), metadata: .from("192.0.2.11"))
            }
            for _ in 0..<50 {
                _ = try await server.health.check(.init(), metadata: .from(client))
            }
            // Tokens come back with time: 10 per second.
            server.clock.advance(by: 1)
            for index in 1...10 {
                await expectRPCError(.unauthenticated, .invalidCredentials) {
                    _ = try await server.auth.login(
                        loginRequest("later\(index)@classy.test", "nope nope"), metadata: .from(client))
                }
            }
            await expectRPCError(.resourceExhausted, .rateLimited) {
                _ = try await server.auth.login(
                    loginRequest("later11@classy.test", "nope nope"), metadata: .from(client))
            }
        }
    }

    @Test("rate limits: other RPCs get 200 at once, before validation and authentication")
    func standardRateLimit() async throws {
        try await withTestServer(configure: { configuration in
            configuration.trustLoopbackProxy()
            configuration.rateLimitEnabled = true
        }) { server async throws in
            for _ in 1...200 {
                await expectRPCError(.unauthenticated, .tokenInvalid) {
                    _ = try await server.users.getMe(.init(), metadata: .from("198.51.100.200"))
                }
            }
            let limited = await expectRPCError(.resourceExhausted, .rateLimited) {
                _ = try await server.users.getMe(.init(), metadata: .from("198.51.100.200"))
            }
            #expect(limited?.retryAfter == .milliseconds(10))
        }
    }

    @Test("the retention job deletes attempts older than 30 days")
    func retention() async throws {
        try await withTestServer { server async throws in
            let now = server.clock.now()
            for days in [40, 31, 29, 1] {
                try await server.store.recordLoginAttempt(
                    LoginAttemptRecord(
                        email: "old\(days)@classy.test", ipAddress: "192.0.2.1", success: false,
                        time: now.addingTimeInterval(-TimeInterval(days) * 86400)
                    ),
                    effects: .none
                )
            }
            let job = LoginAttemptRetentionJob(store: server.store, clock: server.clock)
            #expect(try await job.runOnce() == 2)
            let left = try await server.store.listLoginAttempts(.init())
            #expect(Set(left.map(\.email)) == ["old29@classy.test", "old1@classy.test"])
            #expect(try await job.runOnce() == 0)
        }
    }
}
