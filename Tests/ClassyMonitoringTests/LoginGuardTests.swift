import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyStore
import ClassyStoreSQLite
import ClassyTesting
import Foundation
import Testing

/// The brute-force policy applied by LoginGuard, against a real store and a fake clock.
@Suite("LoginGuard brute-force defence")
struct LoginGuardTests {
    /// What happened to one attempt.
    enum Outcome: Equatable {
        /// Admitted and checked (the password was wrong, or right for a success).
        case checked
        /// Refused before the check.
        case refused(ClassyError.Code, retryAfter: Duration?)
    }

    struct Fixture {
        let store: SQLiteStore
        let clock: ManualClock
        let loginGuard: LoginGuard

        init(policy: BruteForcePolicy = BruteForcePolicy()) async throws {
            store = try SQLiteStore.inMemory()
            try await store.migrate()
            clock = ManualClock()
            loginGuard = LoginGuard(store: store, clock: clock, policy: policy)
        }

        /// A Login with a wrong password: admit, then record the failure.
        @discardableResult
        func fail(_ email: String, from ip: String = "203.0.113.10", userID: String? = nil) async throws -> Outcome {
            let context = LoginContext(email: email, ipAddress: ip, userAgent: "test", deviceName: "bench")
            do {
                try await loginGuard.admit(context)
            } catch let error as ClassyError {
                return .refused(error.code, retryAfter: error.retryAfter)
            }
            try await loginGuard.recordFailure(context, reason: .invalidCredentials, userID: userID)
            return .checked
        }

        /// A Login with the right password for `user`.
        @discardableResult
        func succeed(_ user: UserRecord, from ip: String = "203.0.113.10") async throws -> Outcome {
            let context = LoginContext(email: user.email, ipAddress: ip, userAgent: "test", deviceName: "bench")
            do {
                try await loginGuard.admit(context)
            } catch let error as ClassyError {
                return .refused(error.code, retryAfter: error.retryAfter)
            }
            let now = clock.now()
            _ = try await loginGuard.recordSuccess(
                context,
                session: SessionRecord(
                    userID: user.id, ipAddress: ip, createTime: now, expireTime: now.addingTimeInterval(3600),
                    currentRefreshHash: UUID().uuidString
                ),
                effects: .none
            )
            return .checked
        }

        func user(
            _ email: String = "user-\(UUID().uuidString.prefix(8).lowercased())@classy.test"
        ) async throws
            -> UserRecord
        {
            try await store.createUser(
                NewUser(email: email, passwordHash: "x", firstName: "A", lastName: "B", createTime: clock.now()),
                effects: .none
            )
        }

        func events(_ kind: SecurityEventKind) async throws -> [Classy_Monitoring_V1_SecurityEvent] {
            try await store.events(after: 0, types: [kind], limit: 10_000).map(\.api)
        }
    }

    static let locked = Outcome.refused(.accountLocked, retryAfter: .seconds(60))

    @Test("the 5th failure for an email still is checked; the next attempt is ACCOUNT_LOCKED with RetryInfo")
    func lockAfterFive() async throws {
        let fixture = try await Fixture()
        for _ in 1...5 {
            #expect(try await fixture.fail("victim@classy.test") == .checked)
        }
        #expect(try await fixture.fail("victim@classy.test") == Self.locked)
        // Locked attempts do not count again and are recorded with their reason.
        #expect(try await fixture.fail("Victim@Classy.test ") == Self.locked)
        let lock = try #require(try await fixture.store.accountLock(email: "victim@classy.test"))
        #expect(lock.lockCount == 1)
        let attempts = try await fixture.store.listLoginAttempts(.init(email: "victim@classy.test", limit: 100))
        #expect(attempts.count == 7)
        #expect(attempts.filter { $0.failureReason == "account_locked" }.count == 2)
        #expect(attempts.filter { $0.failureReason == "invalid_credentials" }.count == 5)

        let lockEvents = try await fixture.events(.accountLocked)
        #expect(lockEvents.count == 1)
        #expect(lockEvents.first?.accountLocked.email == "victim@classy.test")
        #expect(lockEvents.first?.accountLocked.failedAttempts == 5)
        let audits = try await fixture.store.listAuditLogs(.init(action: "account.lock"))
        #expect(audits.map(\.resourceID) == ["victim@classy.test"])
        #expect(try await fixture.events(.loginAttempt).count == 7)

        // Another email from the same address is unaffected.
        #expect(try await fixture.fail("bystander@classy.test") == .checked)
    }

    @Test("locks escalate 1, 2, 4 min and end by themselves; the right password is refused while locked")
    func lockEscalation() async throws {
        let fixture = try await Fixture()
        let user = try await fixture.user("escalate@classy.test")
        for (number, minutes) in [(1, 1), (2, 2), (3, 4)] {
            for _ in 1...5 {
                #expect(try await fixture.fail(user.email, userID: user.id) == .checked)
            }
            #expect(
                try await fixture.succeed(user)
                    == .refused(.accountLocked, retryAfter: .seconds(60 * minutes)),
                "lock \(number)"
            )
            fixture.clock.advance(by: TimeInterval(60 * minutes) - 1)
            #expect(try await fixture.fail(user.email) == .refused(.accountLocked, retryAfter: .seconds(1)))
            fixture.clock.advance(by: 1)
        }
        #expect(try await fixture.store.accountLock(email: user.email)?.lockCount == 3)
        // The lock ended: the right password signs in.
        #expect(try await fixture.succeed(user) == .checked)
        // Each lock told the account's owner.
        let notifications = try await fixture.store.notifications(userID: user.id, after: 0, limit: 10)
        #expect(notifications.count == 3)
        #expect(notifications.allSatisfy { $0.kind == Classy_Users_V1_NotificationKind.accountLocked.storeValue })
    }

    @Test("locks stop doubling at 1 h; escalation restarts a day after the last lock")
    func lockCapAndReset() async throws {
        // The default client address is allow-listed, so 45 failures only lock the email.
        let fixture = try await Fixture(policy: BruteForcePolicy(allowList: [IPNetwork("203.0.113.0/24")!]))
        var expected: [Int] = []
        var seen: [Int] = []
        for number in 1...8 {
            for _ in 1...5 { try await fixture.fail("cap@classy.test") }
            let minutes = min(60, 1 << (number - 1))
            expected.append(minutes)
            if case .refused(_, let retry?) = try await fixture.fail("cap@classy.test") {
                seen.append(Int(retry.components.seconds / 60))
            }
            fixture.clock.advance(by: TimeInterval(minutes * 60))
        }
        #expect(seen == expected)
        fixture.clock.advance(by: 25 * 3600)
        for _ in 1...5 { try await fixture.fail("cap@classy.test") }
        #expect(try await fixture.fail("cap@classy.test") == Self.locked)
    }

    @Test("a successful login resets the email's counter")
    func resetOnSuccess() async throws {
        let fixture = try await Fixture()
        let user = try await fixture.user()
        for _ in 1...4 { try await fixture.fail(user.email) }
        #expect(try await fixture.succeed(user) == .checked)
        for _ in 1...4 {
            #expect(try await fixture.fail(user.email) == .checked)
        }
        #expect(try await fixture.store.accountLock(email: user.email) == nil)
        #expect(try await fixture.fail(user.email) == .checked)
        #expect(try await fixture.fail(user.email) == Self.locked)
    }

    @Test("20 failures from an IP block it for 15 min; the next is refused with RetryInfo")
    func ipBlock() async throws {
        let fixture = try await Fixture()
        for index in 1...20 {
            #expect(try await fixture.fail("spray\(index)@classy.test", from: "198.51.100.7") == .checked)
        }
        #expect(
            try await fixture.fail("spray21@classy.test", from: "198.51.100.7")
                == .refused(.ipBlocked, retryAfter: .seconds(900))
        )
        let block = try #require(
            try await fixture.store.activeBlock(ipAddress: "198.51.100.7", now: fixture.clock.now()))
        #expect(block.attempts == 20)
        #expect(block.createdBy == nil)
        #expect(!block.permanent)
        #expect(try await fixture.events(.ipBlocked).count == 1)
        #expect(try await fixture.store.listAuditLogs(.init(action: "ip.block")).count == 1)
        // Other addresses are unaffected.
        #expect(try await fixture.fail("spray1@classy.test", from: "198.51.100.8") == .checked)
        // The block ends by itself, and the failures before it never count again.
        fixture.clock.advance(by: 900)
        for index in 1...19 {
            #expect(try await fixture.fail("again\(index)@classy.test", from: "198.51.100.7") == .checked)
        }
        #expect(try await fixture.store.activeBlock(ipAddress: "198.51.100.7", now: fixture.clock.now()) == nil)
    }

    @Test("IP blocks double from 15 min and the 5th within 24 h is permanent")
    func ipEscalation() async throws {
        let fixture = try await Fixture()
        var counter = 0
        for minutes in [15, 30, 60, 120] {
            for _ in 1...20 {
                counter += 1
                try await fixture.fail("e\(counter)@classy.test", from: "192.0.2.50")
            }
            #expect(
                try await fixture.fail("next@classy.test", from: "192.0.2.50")
                    == .refused(.ipBlocked, retryAfter: .seconds(60 * minutes))
            )
            fixture.clock.advance(by: TimeInterval(60 * minutes))
        }
        for _ in 1...20 {
            counter += 1
            try await fixture.fail("e\(counter)@classy.test", from: "192.0.2.50")
        }
        #expect(try await fixture.fail("next@classy.test", from: "192.0.2.50") == .refused(.ipBlocked, retryAfter: nil))
        fixture.clock.advance(by: 30 * 24 * 3600)
        #expect(
            try await fixture.fail("later@classy.test", from: "192.0.2.50") == .refused(.ipBlocked, retryAfter: nil))
        let block = try #require(try await fixture.store.activeBlock(ipAddress: "192.0.2.50", now: fixture.clock.now()))
        #expect(block.permanent)
        #expect(block.blockedUntil == nil)
    }

    @Test("successful logins do not count toward the IP's failures")
    func successesDoNotCountForIP() async throws {
        let fixture = try await Fixture()
        for index in 1...19 {
            try await fixture.fail("miss\(index)@classy.test", from: "198.51.100.20")
        }
        for _ in 1...10 {
            #expect(try await fixture.succeed(try await fixture.user(), from: "198.51.100.20") == .checked)
        }
        #expect(try await fixture.store.activeBlock(ipAddress: "198.51.100.20", now: fixture.clock.now()) == nil)
        #expect(try await fixture.fail("miss20@classy.test", from: "198.51.100.20") == .checked)
        #expect(
            try await fixture.fail("miss21@classy.test", from: "198.51.100.20")
                == .refused(.ipBlocked, retryAfter: .seconds(900)))
    }

    @Test("IPv6 clients are counted and blocked by /64")
    func ipv6Grouping() async throws {
        let fixture = try await Fixture()
        for index in 1...20 {
            let address = "2001:db8:aa:bb:\(String(index, radix: 16))::\(index)"
            #expect(try await fixture.fail("v6-\(index)@classy.test", from: address) == .checked)
        }
        #expect(
            try await fixture.fail("v6@classy.test", from: "2001:db8:aa:bb:ffff::1")
                == .refused(.ipBlocked, retryAfter: .seconds(900))
        )
        #expect(try await fixture.fail("v6@classy.test", from: "2001:db8:aa:bc::1") == .checked)
        let blocks = try await fixture.store.activeBlocks(now: fixture.clock.now())
        #expect(blocks.map(\.ipAddress) == ["2001:db8:aa:bb::/64"])
    }

    @Test("allow-listed addresses are never counted nor blocked")
    func allowList() async throws {
        let fixture = try await Fixture(policy: BruteForcePolicy(allowList: [IPNetwork("10.0.0.0/8")!]))
        for index in 1...40 {
            #expect(try await fixture.fail("internal\(index)@classy.test", from: "10.20.30.40") == .checked)
        }
        #expect(try await fixture.store.activeBlocks(now: fixture.clock.now()).isEmpty)
        // Email locks still apply.
        for _ in 1...5 { try await fixture.fail("same@classy.test", from: "10.1.1.1") }
        #expect(try await fixture.fail("same@classy.test", from: "10.1.1.1") == Self.locked)
    }

    @Test("a deactivated account's right password neither counts nor resets the IP allowance")
    func disabledDoesNotCount() async throws {
        let fixture = try await Fixture()
        for _ in 1...10 {
            let context = LoginContext(
                email: "off@classy.test", ipAddress: "198.51.100.99", userAgent: "", deviceName: "")
            try await fixture.loginGuard.admit(context)
            try await fixture.loginGuard.recordFailure(context, reason: .accountDisabled, userID: nil)
        }
        #expect(try await fixture.store.accountLock(email: "off@classy.test") == nil)
        let attempts = try await fixture.store.listLoginAttempts(.init(email: "off@classy.test"))
        #expect(attempts.count == 10)
        #expect(attempts.allSatisfy { $0.failureReason == "account_disabled" })
    }

    @Test("N concurrent wrong guesses for one email: exactly 5 reach the password check, one lock")
    func concurrentEmailRace() async throws {
        let fixture = try await Fixture()
        let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
            for index in 0..<40 {
                group.addTask { try await fixture.fail("race@classy.test", from: "198.51.100.\(index + 1)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .checked }.count == 5)
        #expect(outcomes.filter { if case .refused(.accountLocked, _) = $0 { true } else { false } }.count == 35)
        #expect(try await fixture.store.accountLock(email: "race@classy.test")?.lockCount == 1)
        #expect(try await fixture.events(.accountLocked).count == 1)
    }

    @Test("N concurrent wrong guesses from one IP: exactly 20 reach the password check, one block")
    func concurrentIPRace() async throws {
        let fixture = try await Fixture()
        let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
            for index in 0..<60 {
                group.addTask { try await fixture.fail("ip-race-\(index)@classy.test", from: "203.0.113.99") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .checked }.count == 20)
        #expect(outcomes.filter { if case .refused(.ipBlocked, _) = $0 { true } else { false } }.count == 40)
        #expect(try await fixture.store.blockCount(ipAddress: "203.0.113.99", since: .distantPast) == 1)
    }

    @Test("an admin unlock or unblock gives a full allowance again")
    func unlockAndUnblock() async throws {
        let fixture = try await Fixture()
        for _ in 1...5 { try await fixture.fail("again@classy.test", from: "198.51.100.55") }
        #expect(try await fixture.fail("again@classy.test", from: "198.51.100.56") == Self.locked)
        _ = try await fixture.store.unlockAccount(email: "again@classy.test", now: fixture.clock.now(), effects: .none)
        for _ in 1...5 {
            #expect(try await fixture.fail("again@classy.test", from: "198.51.100.57") == .checked)
        }

        for index in 1...20 { try await fixture.fail("u\(index)@classy.test", from: "198.51.100.60") }
        #expect(
            try await fixture.fail("u@classy.test", from: "198.51.100.60")
                == .refused(.ipBlocked, retryAfter: .seconds(900)))
        _ = try await fixture.store.unblockIP(
            ipAddress: "198.51.100.60", reason: "test", now: fixture.clock.now(), effects: .none
        )
        for index in 1...19 {
            #expect(try await fixture.fail("w\(index)@classy.test", from: "198.51.100.60") == .checked)
        }
    }
}
