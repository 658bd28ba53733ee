import ClassyAPI
import ClassyCore
import ClassyServer
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import SwiftProtobuf
import Testing

/// MonitoringService over real TCP: lists, metrics, administration and the IP-block check of the request path.
@Suite("MonitoringService")
struct MonitoringServiceTests {
    /// Stores login attempts straight in the store: `count` of them, one second apart, newest last.
    static func seedAttempts(_ server: TestServer, count: Int, start: Date) async throws -> [LoginAttemptRecord] {
        var records: [LoginAttemptRecord] = []
        for index in 0..<count {
            let record = LoginAttemptRecord(
                email: index.isMultiple(of: 3) ? "alice@classy.test" : "bob@classy.test",
                ipAddress: index.isMultiple(of: 2) ? "198.51.100.1" : "2001:db8::1",
                success: index.isMultiple(of: 4),
                failureReason: index.isMultiple(of: 4) ? nil : "invalid_credentials",
                time: start.addingTimeInterval(TimeInterval(index))
            )
            try await server.store.recordLoginAttempt(record, effects: .none)
            records.append(record)
        }
        return records
    }

    @Test("ListLoginAttempts pages newest first with opaque tokens and filters")
    func listLoginAttempts() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            let start = server.clock.now().addingTimeInterval(-100)
            let records = try await Self.seedAttempts(server, count: 12, start: start)

            var seen: [String] = []
            var pageToken = ""
            repeat {
                let page = try await server.monitoring.listLoginAttempts(
                    .with {
                        $0.pageSize = 5
                        $0.pageToken = pageToken
                    },
                    metadata: .bearer(token)
                )
                #expect(page.attempts.count <= 5)
                seen += page.attempts.map(\.id)
                pageToken = page.nextPageToken
            } while !pageToken.isEmpty
            #expect(seen == records.reversed().map(\.id))

            let alice = try await server.monitoring.listLoginAttempts(
                .with { $0.email = " ALICE@classy.test" }, metadata: .bearer(token)
            )
            #expect(alice.attempts.map(\.id) == records.filter { $0.email == "alice@classy.test" }.reversed().map(\.id))
            let v6Failures = try await server.monitoring.listLoginAttempts(
                .with {
                    $0.ipAddress = "2001:0db8:0:0::1"
                    $0.successFilter = false
                },
                metadata: .bearer(token)
            )
            #expect(
                v6Failures.attempts.map(\.id)
                    == records.filter { $0.ipAddress == "2001:db8::1" && !$0.success }.reversed().map(\.id)
            )
            #expect(v6Failures.attempts.allSatisfy { $0.failureReason == .invalidCredentials })
            let window = try await server.monitoring.listLoginAttempts(
                .with {
                    $0.startTime = .init(date: start.addingTimeInterval(3))
                    $0.endTime = .init(date: start.addingTimeInterval(6))
                },
                metadata: .bearer(token)
            )
            #expect(window.attempts.map(\.id) == records[3..<6].reversed().map(\.id))

            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.monitoring.listLoginAttempts(
                    .with { $0.ipAddress = "nope" }, metadata: .bearer(token))
            }
            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.monitoring.listLoginAttempts(
                    .with { $0.pageToken = "garbage" }, metadata: .bearer(token))
            }
            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.monitoring.listLoginAttempts(.with { $0.pageSize = 501 }, metadata: .bearer(token))
            }
            let inverted = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.monitoring.listLoginAttempts(
                    .with {
                        $0.startTime = .init(date: start.addingTimeInterval(6))
                        $0.endTime = .init(date: start)
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(inverted?.fieldViolations.map(\.field) == ["start_time"])
        }
    }

    @Test("GetSecurityMetrics uses and returns 1 h by default and counts from the store")
    func metrics() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            let now = server.clock.now()
            _ = try await Self.seedAttempts(server, count: 8, start: now.addingTimeInterval(-120))
            // An attempt outside the window.
            try await server.store.recordLoginAttempt(
                LoginAttemptRecord(
                    email: "old@classy.test", ipAddress: "192.0.2.1", success: false,
                    time: now.addingTimeInterval(-7200)),
                effects: .none
            )
            _ = try await server.store.blockIP(
                BlockedIPRecord(
                    ipAddress: "192.0.2.9", reason: "t", blockedUntil: now.addingTimeInterval(60), permanent: false,
                    createTime: now),
                effects: .none
            )
            let metrics = try await server.monitoring.getSecurityMetrics(.init(), metadata: .bearer(token)).metrics
            #expect(metrics.window.seconds == 3600)
            #expect(metrics.loginAttempts == 8)
            #expect(metrics.successfulLogins == 2)
            #expect(metrics.failedLogins == 6)
            #expect(metrics.uniqueIps == 2)
            #expect(metrics.activeBlockedIps == 1)
            #expect(metrics.activeSessions == 1)
            #expect(metrics.failuresPerMinute.count == 60)
            #expect(metrics.failuresPerMinute.reduce(0, +) == 6)
            #expect(metrics.topFailingIps.map(\.ipAddress) == ["2001:db8::1", "198.51.100.1"])

            let short = try await server.monitoring.getSecurityMetrics(
                .with { $0.window = .init(seconds: 300) }, metadata: .bearer(token)
            ).metrics
            #expect(short.window.seconds == 300)
            #expect(short.failuresPerMinute.count == 5)
            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.monitoring.getSecurityMetrics(
                    .with { $0.window = .init(seconds: 10) }, metadata: .bearer(token)
                )
            }
        }
    }

    @Test("BlockIP of a CIDR refuses every RPC from inside it (Health excepted) until UnblockIP; both audited")
    func blockAndUnblockCIDR() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (admin, token, _) = try await server.signIn(role: .admin)
            let blocked = try await server.monitoring.blockIP(
                .with {
                    $0.ipAddress = "198.51.100.77/24"
                    $0.reason = "abuse"
                    $0.duration = .init(seconds: 3600)
                },
                metadata: .bearer(token)
            ).blockedIp
            #expect(blocked.ipAddress == "198.51.100.0/24")
            #expect(blocked.createdBy == admin.id)
            #expect(!blocked.permanent)
            #expect(blocked.blockedUntil.date == server.clock.now().addingTimeInterval(3600))

            let refused = await expectRPCError(.permissionDenied, .ipBlocked) {
                _ = try await server.users.getMe(.init(), metadata: .from("198.51.100.200"))
            }
            #expect(refused?.retryAfter == .seconds(3600))
            // Health is never blocked; other addresses are unaffected (they reach authentication).
            #expect(try await server.health.check(.init(), metadata: .from("198.51.100.200")).status == .serving)
            await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init(), metadata: .from("198.51.101.1"))
            }

            let list = try await server.monitoring.listBlockedIPs(.init(), metadata: .bearer(token))
            #expect(list.blockedIps.map(\.ipAddress) == ["198.51.100.0/24"])

            server.clock.advance(by: 1)
            _ = try await server.monitoring.unblockIP(
                .with {
                    $0.ipAddress = "198.51.100.0/24"
                    $0.reason = "resolved"
                },
                metadata: .bearer(token)
            )
            await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init(), metadata: .from("198.51.100.200"))
            }
            await expectRPCError(.notFound, .notFound) {
                _ = try await server.monitoring.unblockIP(
                    .with { $0.ipAddress = "198.51.100.0/24" }, metadata: .bearer(token))
            }
            #expect(try await server.monitoring.listBlockedIPs(.init(), metadata: .bearer(token)).blockedIps.isEmpty)
            let history = try await server.monitoring.listBlockedIPs(
                .with { $0.includeExpired = true }, metadata: .bearer(token))
            #expect(history.blockedIps.count == 1)

            let audits = try await server.monitoring.listAuditLogs(
                .with { $0.resourceType = "ip" }, metadata: .bearer(token)
            ).entries
            #expect(audits.map(\.action) == ["ip.unblock", "ip.block"])
            #expect(audits.allSatisfy { $0.actorUserID == admin.id && $0.resourceID == "198.51.100.0/24" })
            let events = try await server.store.events(after: 0, types: [.ipBlocked, .ipUnblocked], limit: 10)
            #expect(events.map(\.kind) == [.ipBlocked, .ipUnblocked])
            #expect(events.last?.api.ipUnblocked.unblockedBy == admin.id)
        }
    }

    @Test("a permanent block has no RetryInfo; IPv6 ranges block their addresses; an expired block lets through")
    func permanentAndIPv6Blocks() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            let permanent = try await server.monitoring.blockIP(
                .with { $0.ipAddress = "2001:db8:1:2::/64" }, metadata: .bearer(token)
            ).blockedIp
            #expect(permanent.permanent)
            #expect(!permanent.hasBlockedUntil)
            let refused = await expectRPCError(.permissionDenied, .ipBlocked) {
                _ = try await server.users.getMe(.init(), metadata: .from("2001:db8:1:2:abcd::9"))
            }
            #expect(refused?.retryAfter == nil)
            await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init(), metadata: .from("2001:db8:1:3::9"))
            }

            _ = try await server.monitoring.blockIP(
                .with {
                    $0.ipAddress = "192.0.2.33"
                    $0.duration = .init(seconds: 60)
                },
                metadata: .bearer(token)
            )
            await expectRPCError(.permissionDenied, .ipBlocked) {
                _ = try await server.users.getMe(.init(), metadata: .from("192.0.2.33"))
            }
            server.clock.advance(by: 60)
            await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.users.getMe(.init(), metadata: .from("192.0.2.33"))
            }
        }
    }

    @Test("BlockIP validates its fields and refuses allow-listed ranges")
    func blockValidation() async throws {
        try await withTestServer(configure: { $0.bruteForce.allowList = [IPNetwork("10.0.0.0/8")!] }) {
            server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            await expectRPCError(.failedPrecondition, .ipAllowListed) {
                _ = try await server.monitoring.blockIP(
                    .with { $0.ipAddress = "10.1.0.0/16" }, metadata: .bearer(token))
            }
            await expectRPCError(.failedPrecondition, .ipAllowListed) {
                _ = try await server.monitoring.blockIP(.with { $0.ipAddress = "0.0.0.0/0" }, metadata: .bearer(token))
            }
            let invalid = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.monitoring.blockIP(
                    .with {
                        $0.ipAddress = "300.1.1.1"
                        $0.duration = .init(seconds: -5)
                        $0.reason = String(repeating: "x", count: 501)
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(Set(invalid?.fieldViolations.map(\.field) ?? []) == ["ip_address", "duration", "reason"])
            let (_, userToken, _) = try await server.signIn(role: .user)
            await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.monitoring.blockIP(
                    .with { $0.ipAddress = "192.0.2.1" }, metadata: .bearer(userToken))
            }
        }
    }

    @Test("UnlockAccount lifts a lock (audited); an unlocked email is NOT_FOUND")
    func unlockAccount() async throws {
        try await withTestServer { server async throws in
            let (admin, token, _) = try await server.signIn(role: .admin)
            let now = server.clock.now()
            _ = try await server.store.lockAccount(
                email: "locked@classy.test", until: now.addingTimeInterval(60), now: now, escalationResetBefore: nil,
                effects: .none
            )
            _ = try await server.monitoring.unlockAccount(
                .with { $0.email = "Locked@Classy.test" }, metadata: .bearer(token))
            #expect(try await server.store.accountLock(email: "locked@classy.test")?.isLocked(at: now) == false)
            await expectRPCError(.notFound, .notFound) {
                _ = try await server.monitoring.unlockAccount(
                    .with { $0.email = "locked@classy.test" }, metadata: .bearer(token))
            }
            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.monitoring.unlockAccount(
                    .with { $0.email = "not an email" }, metadata: .bearer(token))
            }
            let audits = try await server.monitoring.listAuditLogs(
                .with {
                    $0.action = "account.unlock"
                    $0.actorUserID = admin.id
                },
                metadata: .bearer(token)
            )
            #expect(audits.entries.map(\.resourceID) == ["locked@classy.test"])
        }
    }

    @Test("ListAuditLogs filters by actor, action, resource type and time, and pages")
    func listAuditLogs() async throws {
        try await withTestServer { server async throws in
            let (admin, token, _) = try await server.signIn(role: .admin)
            let start = server.clock.now().addingTimeInterval(-50)
            for index in 0..<7 {
                _ = try await server.store.commit(
                    .audited(
                        AuditEntryRecord(
                            action: index < 4 ? "user.update" : "ip.block",
                            actorUserID: index.isMultiple(of: 2) ? admin.id : nil,
                            resourceType: index < 4 ? "user" : "ip",
                            resourceID: "r\(index)",
                            time: start.addingTimeInterval(TimeInterval(index))
                        )
                    )
                )
            }
            var ids: [String] = []
            var pageToken = ""
            repeat {
                let page = try await server.monitoring.listAuditLogs(
                    .with {
                        $0.pageSize = 3
                        $0.pageToken = pageToken
                    },
                    metadata: .bearer(token)
                )
                ids += page.entries.map(\.resourceID)
                pageToken = page.nextPageToken
            } while !pageToken.isEmpty
            #expect(ids == (0..<7).reversed().map { "r\($0)" })

            let byAdmin = try await server.monitoring.listAuditLogs(
                .with { $0.actorUserID = admin.id }, metadata: .bearer(token))
            #expect(byAdmin.entries.map(\.resourceID) == ["r6", "r4", "r2", "r0"])
            let users = try await server.monitoring.listAuditLogs(
                .with {
                    $0.action = "user.update"
                    $0.resourceType = "user"
                    $0.startTime = .init(date: start.addingTimeInterval(1))
                    $0.endTime = .init(date: start.addingTimeInterval(3))
                },
                metadata: .bearer(token)
            )
            #expect(users.entries.map(\.resourceID) == ["r2", "r1"])
        }
    }

    @Test("monitoring RPCs need an admin; a service account may only stream")
    func roles() async throws {
        try await withTestServer { server async throws in
            let (_, userToken, _) = try await server.signIn(role: .user)
            let (_, serviceToken) = try await server.serviceToken()
            await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.monitoring.getSecurityMetrics(.init(), metadata: .bearer(userToken))
            }
            await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.monitoring.listAuditLogs(.init(), metadata: .bearer(serviceToken))
            }
            await expectRPCError(.permissionDenied, .forbidden) {
                try await server.monitoring.streamSecurityEvents(.init(), metadata: .bearer(userToken)) { response in
                    for try await _ in response.messages {}
                }
            }
        }
    }
}
