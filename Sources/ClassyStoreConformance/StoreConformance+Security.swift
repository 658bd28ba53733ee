import ClassyCore
import ClassyStore
import Foundation
import Testing

extension StoreConformance {
    /// Sliding-window failure counts per email and per IP key, and their reset.
    public static func failureCounters(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let window: TimeInterval = 900
            for step in 1...3 {
                let counts = try await store.recordLoginFailure(
                    email: "Bob@Example.com", ipKey: "198.51.100.1", window: window, now: at(Double(step)),
                    attempt: nil, effects: .none)
                #expect(counts == LoginFailureCounts(email: step, ip: step))
            }
            // The same email in another spelling counts under the same key.
            let spelled = try await store.recordLoginFailure(
                email: " bob@example.COM", ipKey: nil, window: window, now: at(4), attempt: nil, effects: .none)
            #expect(spelled == LoginFailureCounts(email: 4, ip: 0))
            #expect(
                try await store.loginFailureCounts(
                    email: "bob@example.com", ipKey: "198.51.100.1", window: window,
                    now: at(5)) == LoginFailureCounts(email: 4, ip: 3))

            // The window slides: at t+902.5 only the failures after t+2.5 remain.
            let slid = try await store.recordLoginFailure(
                email: "bob@example.com", ipKey: "198.51.100.1", window: window, now: at(902.5), attempt: nil,
                effects: .none)
            #expect(slid == LoginFailureCounts(email: 3, ip: 2))

            try await store.resetFailures(email: "BOB@example.com")
            let reset = try await store.loginFailureCounts(
                email: "bob@example.com", ipKey: "198.51.100.1",
                window: window, now: at(902.75))
            #expect(reset == LoginFailureCounts(email: 0, ip: 2))

            // Keys are independent.
            let otherIP = try await store.recordLoginFailure(
                email: nil, ipKey: "2001:db8::/64", window: window, now: at(903), attempt: nil, effects: .none)
            #expect(otherIP == LoginFailureCounts(email: 0, ip: 1))

            // The attempt and effects are stored with the count.
            let attempt = LoginAttemptRecord(
                email: "bob@example.com", ipAddress: "198.51.100.1", success: false,
                failureReason: "INVALID_CREDENTIALS", time: at(904))
            var effects = StoreEffects()
            effects.event(event(.loginAttempt, attempt.id, time: at(904)))
            _ = try await store.recordLoginFailure(
                email: "bob@example.com", ipKey: "198.51.100.1", window: window, now: at(904), attempt: attempt,
                effects: effects)
            #expect(try await store.listLoginAttempts(LoginAttemptQuery()) == [attempt])
            #expect(try await store.events(after: 0, types: [.loginAttempt], limit: 10).count == 1)
        }
    }

    /// Concurrent failures on one key observe every count from 1 to N exactly once.
    public static func failureCountersConcurrent(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let results = await concurrently(100) { index in
                try await store.recordLoginFailure(
                    email: "victim@example.com", ipKey: "192.0.2.\(index % 2)", window: 900,
                    now: at(Double(index) / 1000), attempt: nil, effects: .none)
            }
            let counts = results.compactMap { try? $0.get() }
            #expect(counts.count == 100)
            #expect(counts.map(\.email).sorted() == Array(1...100))
            #expect(counts.map(\.ip).sorted() == (Array(1...50) + Array(1...50)).sorted())
            let total = try await store.loginFailureCounts(
                email: "victim@example.com", ipKey: nil, window: 900,
                now: at(1))
            #expect(total.email == 100)
        }
    }

    /// A count given an IP successes key also returns the entries under it within the window, read before the
    /// failure is counted, and leaves them as they were.
    public static func successesReadBeforeCount(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let first = try await store.recordLoginFailure(
                email: "reader@example.com", ipKey: "192.0.2.9#0", ipSuccessesKey: "ok:192.0.2.9#0", window: 900,
                now: at(1), attempt: nil, effects: .none)
            #expect(first == LoginFailureCounts(email: 1, ip: 1, ipSuccesses: 0))
            let user = try await makeUser(store, email: "reader@example.com")
            let session = makeSession(userID: user.id, refreshHash: "reader-r0", createTime: at(2))
            _ = try await store.recordSuccessfulLogin(
                session: session,
                attempt: LoginAttemptRecord(
                    email: "reader@example.com", ipAddress: "192.0.2.9", success: true, userID: user.id,
                    sessionID: session.id, time: at(2)),
                ipSuccessKey: "ok:192.0.2.9#0", window: 900, effects: .none)
            let second = try await store.recordLoginFailure(
                email: nil, ipKey: "192.0.2.9#0", ipSuccessesKey: "ok:192.0.2.9#0", window: 900, now: at(3),
                attempt: nil, effects: .none)
            #expect(second == LoginFailureCounts(email: 0, ip: 2, ipSuccesses: 1))
            // Reading them counted nothing under the successes key.
            let successes = try await store.loginFailureCounts(
                email: nil, ipKey: "ok:192.0.2.9#0", window: 900, now: at(4))
            #expect(successes.ip == 1)
            // The window applies: by t+902.5 the success at t+2 has left it, the attempt at t+3 has not.
            let late = try await store.recordLoginFailure(
                email: nil, ipKey: "192.0.2.9#0", ipSuccessesKey: "ok:192.0.2.9#0", window: 900, now: at(902.5),
                attempt: nil, effects: .none)
            #expect(late == LoginFailureCounts(email: 0, ip: 2, ipSuccesses: 0))
            // Without the key nothing is read.
            let plain = try await store.recordLoginFailure(
                email: nil, ipKey: "192.0.2.9#0", window: 900, now: at(903), attempt: nil, effects: .none)
            #expect(plain.ipSuccesses == 0)
        }
    }

    /// Login's pre-count counts as a bare recordLoginFailure does and returns the email's account.
    public static func preCountLogin(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "precount@example.com")
            let first = try await store.preCountLogin(
                email: " PreCount@Example.com", ipKey: "192.0.2.11#0", ipSuccessesKey: "ok:192.0.2.11#0",
                window: 900, now: at(1))
            #expect(first.counts == LoginFailureCounts(email: 1, ip: 1, ipSuccesses: 0))
            #expect(first.account == user)
            // It counts on the same counters as recordLoginFailure.
            let second = try await store.recordLoginFailure(
                email: "precount@example.com", ipKey: "192.0.2.11#0", window: 900, now: at(2), attempt: nil,
                effects: .none)
            #expect(second == LoginFailureCounts(email: 2, ip: 2))
            let third = try await store.preCountLogin(
                email: "precount@example.com", ipKey: nil, ipSuccessesKey: nil, window: 900, now: at(3))
            #expect(third.counts == LoginFailureCounts(email: 3, ip: 0))
            #expect(third.account?.id == user.id)
            // Unknown and deleted accounts are not found; the attempt is counted all the same.
            let unknown = try await store.preCountLogin(
                email: "nobody@example.com", ipKey: "192.0.2.11#0", ipSuccessesKey: nil, window: 900, now: at(4))
            #expect(unknown.counts == LoginFailureCounts(email: 1, ip: 3))
            #expect(unknown.account == nil)
            _ = try await store.deleteUser(id: user.id, ifETag: nil, effects: .none, now: at(5))
            let deleted = try await store.preCountLogin(
                email: "precount@example.com", ipKey: nil, ipSuccessesKey: nil, window: 900, now: at(6))
            #expect(deleted.counts.email == 4)
            #expect(deleted.account == nil)
        }
    }

    /// The new-device notification given to a successful login is stored only when the user has other active
    /// sessions and none from the new session's device, judged before the new session is stored.
    public static func newDeviceNotification(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "newdevice@example.com")
            @Sendable func signIn(_ session: SessionRecord, at time: Date) async throws {
                let notification = NewNotification(
                    userID: user.id, kind: "NEW_SIGN_IN", title: "New sign-in", body: session.deviceName,
                    createTime: time)
                _ = try await store.recordSuccessfulLogin(
                    session: session,
                    attempt: LoginAttemptRecord(
                        email: "newdevice@example.com", ipAddress: "192.0.2.10", success: true, userID: user.id,
                        sessionID: session.id, time: time),
                    ipSuccessKey: nil, window: 900, effects: .none, newDeviceNotification: notification)
            }
            // The first sign-in is not news (its own session does not count as another one).
            try await signIn(makeSession(userID: user.id, refreshHash: "nd-1", createTime: at(1)), at: at(1))
            #expect(try await store.unreadNotificationCount(userID: user.id) == 0)
            // Nor is another one from the same device.
            try await signIn(makeSession(userID: user.id, refreshHash: "nd-2", createTime: at(2)), at: at(2))
            #expect(try await store.unreadNotificationCount(userID: user.id) == 0)
            // A sign-in from another device while those are active is.
            var phone = makeSession(userID: user.id, refreshHash: "nd-3", createTime: at(3))
            phone.deviceName = "phone"
            try await signIn(phone, at: at(3))
            let stored = try await store.notifications(userID: user.id, after: 0, limit: 10)
            #expect(stored.map(\.body) == ["phone"])
            // Once every session expired, a sign-in from yet another device is a first sign-in again.
            var tablet = makeSession(userID: user.id, refreshHash: "nd-4", createTime: at(8 * 24 * 3600))
            tablet.deviceName = "tablet"
            try await signIn(tablet, at: at(8 * 24 * 3600))
            #expect(try await store.unreadNotificationCount(userID: user.id) == 1)
        }
    }

    /// A successful login stores the session, attempt and last login, and resets the email's counter.
    public static func successfulLogin(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "login@example.com")
            _ = try await store.recordLoginFailure(
                email: "login@example.com", ipKey: "192.0.2.1", window: 900,
                now: at(1), attempt: nil, effects: .none)
            let session = makeSession(userID: user.id, refreshHash: "login-r0", createTime: at(2))
            let attempt = LoginAttemptRecord(
                email: "LOGIN@example.com", ipAddress: "192.0.2.1", success: true,
                userID: user.id, sessionID: session.id, time: at(2))
            var effects = StoreEffects()
            effects.event(event(.loginAttempt, "ok", time: at(2)))
            effects.notify(
                NewNotification(
                    userID: user.id, kind: "NEW_SIGN_IN", title: "New sign-in",
                    body: "linux", createTime: at(2)))
            let updated = try await store.recordSuccessfulLogin(
                session: session, attempt: attempt, ipSuccessKey: "192.0.2.1#successes", window: 900, effects: effects)
            #expect(updated.lastLoginTime == at(2) && updated.etag == user.etag)
            #expect(try await store.session(id: session.id) == session)
            let counts = try await store.loginFailureCounts(
                email: "login@example.com", ipKey: "192.0.2.1",
                window: 900, now: at(3))
            #expect(counts == LoginFailureCounts(email: 0, ip: 1))
            let successes = try await store.loginFailureCounts(
                email: nil, ipKey: "192.0.2.1#successes", window: 900,
                now: at(3))
            #expect(successes.ip == 1)
            // Counted at the attempt's time, within the window.
            let later = try await store.loginFailureCounts(
                email: nil, ipKey: "192.0.2.1#successes", window: 900,
                now: at(903))
            #expect(later.ip == 0)
            let stored = try await store.listLoginAttempts(LoginAttemptQuery(success: true))
            #expect(stored.map(\.id) == [attempt.id])
            #expect(stored.first?.email == "login@example.com")
            #expect(try await store.unreadNotificationCount(userID: user.id) == 1)

            // Nothing is written when the session cannot be stored.
            let bad = makeSession(userID: "missing", refreshHash: "bad")
            let badAttempt = LoginAttemptRecord(
                email: "x@example.com", ipAddress: "192.0.2.1", success: true,
                time: at(4))
            await expectStoreError(.notFound) {
                try await store.recordSuccessfulLogin(
                    session: bad, attempt: badAttempt, ipSuccessKey: "192.0.2.1#successes", window: 900,
                    effects: auditEffects("x"))
            }
            #expect(try await store.listLoginAttempts(LoginAttemptQuery()).count == 1)
            let unchanged = try await store.loginFailureCounts(
                email: nil, ipKey: "192.0.2.1#successes", window: 900,
                now: at(5))
            #expect(unchanged.ip == 1)
            #expect(try await store.listAuditLogs(AuditQuery()).isEmpty)
        }
    }

    /// Locks count up for escalation, can restart, and unlock keeps the count but lifts the lock.
    public static func accountLocks(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            #expect(try await store.accountLock(email: "lock@example.com") == nil)
            var effects = StoreEffects()
            effects.event(event(.accountLocked, "lock@example.com", time: at(0)))
            let first = try await store.lockAccount(
                email: "Lock@Example.com", until: at(60), now: at(0),
                escalationResetBefore: nil, effects: effects)
            #expect(
                first
                    == AccountLockRecord(
                        email: "lock@example.com", lockedUntil: at(60), lockCount: 1,
                        lastLockTime: at(0)))
            #expect(first.isLocked(at: at(59)) && !first.isLocked(at: at(60)))
            #expect(try await store.accountLock(email: "lock@example.com") == first)
            #expect(try await store.events(after: 0, types: [.accountLocked], limit: 10).count == 1)

            let second = try await store.lockAccount(
                email: "lock@example.com", until: at(220), now: at(100),
                escalationResetBefore: at(-3600), effects: .none)
            #expect(second.lockCount == 2 && second.lockedUntil == at(220) && second.lastLockTime == at(100))
            let restarted = try await store.lockAccount(
                email: "lock@example.com", until: at(5060), now: at(5000),
                escalationResetBefore: at(1400), effects: .none)
            #expect(restarted.lockCount == 1)

            _ = try await store.recordLoginFailure(
                email: "lock@example.com", ipKey: nil, window: 900, now: at(5001),
                attempt: nil, effects: .none)
            let unlocked = try #require(
                try await store.unlockAccount(email: "LOCK@example.com", now: at(5002), effects: auditEffects("unlock"))
            )
            #expect(unlocked.lockedUntil == nil && unlocked.unlockTime == at(5002) && unlocked.lockCount == 1)
            #expect(!unlocked.isLocked(at: at(5003)))
            #expect(try await store.accountLock(email: "lock@example.com") == unlocked)
            #expect(
                try await store.loginFailureCounts(
                    email: "lock@example.com", ipKey: nil, window: 900,
                    now: at(5003)
                ).email == 0)
            #expect(
                try await store.unlockAccount(
                    email: "never@example.com", now: at(5003),
                    effects: auditEffects("unlock")) == nil)
            #expect(try await store.listAuditLogs(AuditQuery(action: "unlock")).count == 1)

            let relocked = try await store.lockAccount(
                email: "lock@example.com", until: at(6000), now: at(5500),
                escalationResetBefore: nil, effects: .none)
            #expect(relocked.lockCount == 2 && relocked.unlockTime == nil)
        }
    }

    /// Block, update in place, unblock, history counts, CIDRs, permanence and expiry.
    public static func ipBlocks(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let ip = "198.51.100.9"
            #expect(try await store.activeBlock(ipAddress: ip, now: t0) == nil)
            let block = BlockedIPRecord(
                ipAddress: ip, reason: "too many failures", attempts: 20,
                blockedUntil: at(900), permanent: false, createTime: t0)
            var effects = StoreEffects()
            effects.event(event(.ipBlocked, ip))
            let stored = try await store.blockIP(block, effects: effects)
            #expect(stored == block)
            #expect(try await store.activeBlock(ipAddress: ip, now: at(899)) == block)
            #expect(try await store.activeBlock(ipAddress: ip, now: at(900)) == nil)
            #expect(try await store.events(after: 0, types: [.ipBlocked], limit: 10).count == 1)

            // An active block is updated in place.
            let extended = try await store.blockIP(
                BlockedIPRecord(
                    ipAddress: ip, reason: "manual", blockedUntil: at(1800), permanent: false,
                    createTime: at(10), createdBy: "admin-1"),
                effects: .none)
            #expect(extended.id == block.id && extended.createTime == t0)
            #expect(extended.reason == "manual" && extended.blockedUntil == at(1800) && extended.createdBy == "admin-1")
            #expect(try await store.blockCount(ipAddress: ip, since: at(-1)) == 1)

            let lifted = try #require(
                try await store.unblockIP(ipAddress: ip, reason: "false positive", now: at(20), effects: .none))
            #expect(lifted.id == block.id && lifted.unblockedTime == at(20) && lifted.unblockReason == "false positive")
            #expect(!lifted.isActive(at: at(21)))
            #expect(try await store.activeBlock(ipAddress: ip, now: at(21)) == nil)
            #expect(
                try await store.unblockIP(
                    ipAddress: ip, reason: "again", now: at(22),
                    effects: auditEffects("ip.unblock")) == nil)
            #expect(try await store.listAuditLogs(AuditQuery(action: "ip.unblock")).isEmpty)

            let again = try await store.blockIP(
                BlockedIPRecord(
                    ipAddress: ip, reason: "again", attempts: 20, blockedUntil: at(1000), permanent: false,
                    createTime: at(30)),
                effects: .none)
            #expect(again.id != block.id)
            #expect(try await store.blockCount(ipAddress: ip, since: at(-1)) == 2)
            #expect(try await store.blockCount(ipAddress: ip, since: at(25)) == 1)

            let cidr = try await store.blockIP(
                BlockedIPRecord(
                    ipAddress: "10.0.0.0/8", reason: "abuse", blockedUntil: at(5), permanent: true,
                    createTime: at(40), createdBy: "admin-1"),
                effects: .none)
            #expect(cidr.permanent && cidr.blockedUntil == nil)
            #expect(try await store.activeBlock(ipAddress: "10.0.0.0/8", now: at(1e9)) == cidr)
            let shortBlock = try await store.blockIP(
                BlockedIPRecord(
                    ipAddress: "192.0.2.50", reason: "short", blockedUntil: at(60), permanent: false,
                    createTime: at(50)),
                effects: .none)

            let activeAt100 = try await store.activeBlocks(now: at(100))
            #expect(Set(activeAt100.map(\.id)) == [again.id, cidr.id])
            let listed = try await store.listBlockedIPs(BlockedIPQuery(now: at(55)))
            #expect(listed.map(\.id) == [shortBlock.id, cidr.id, again.id])
            let everything = try await store.listBlockedIPs(BlockedIPQuery(includeExpired: true, now: at(100)))
            #expect(everything.map(\.id) == [shortBlock.id, cidr.id, again.id, block.id])
            let page2 = try await store.listBlockedIPs(
                BlockedIPQuery(
                    includeExpired: true, now: at(100), after: TimeCursor(time: cidr.createTime, id: cidr.id),
                    limit: 1))
            #expect(page2.map(\.id) == [again.id])
        }
    }

    /// Login attempt filters, newest-first keyset paging and retention.
    public static func loginAttempts(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            var attempts: [LoginAttemptRecord] = []
            for index in 0..<10 {
                let attempt = LoginAttemptRecord(
                    email: index.isMultiple(of: 2) ? "even@example.com" : "odd@example.com",
                    ipAddress: index < 5 ? "192.0.2.1" : "192.0.2.2",
                    success: index.isMultiple(of: 3),
                    failureReason: index.isMultiple(of: 3) ? nil : "INVALID_CREDENTIALS",
                    userID: index.isMultiple(of: 3) ? "user-\(index)" : nil,
                    userAgent: "agent", deviceName: "device", time: at(Double(index)))
                try await store.recordLoginAttempt(attempt, effects: .none)
                attempts.append(attempt)
            }
            let newestFirst = Array(attempts.reversed())
            #expect(try await store.listLoginAttempts(LoginAttemptQuery(limit: 100)) == newestFirst)
            #expect(
                try await store.listLoginAttempts(LoginAttemptQuery(email: "EVEN@example.com", limit: 100))
                    == newestFirst.filter { $0.email == "even@example.com" })
            #expect(
                try await store.listLoginAttempts(LoginAttemptQuery(ipAddress: "192.0.2.2", limit: 100))
                    == newestFirst.filter { $0.ipAddress == "192.0.2.2" })
            #expect(
                try await store.listLoginAttempts(LoginAttemptQuery(success: false, limit: 100))
                    == newestFirst.filter { !$0.success })
            #expect(
                try await store.listLoginAttempts(LoginAttemptQuery(startTime: at(3), endTime: at(6), limit: 100))
                    == newestFirst.filter { $0.time >= at(3) && $0.time < at(6) })

            var paged: [LoginAttemptRecord] = []
            var cursor: TimeCursor?
            for _ in 0..<5 {
                let page = try await store.listLoginAttempts(LoginAttemptQuery(after: cursor, limit: 3))
                paged += page
                guard let last = page.last, page.count == 3 else { break }
                cursor = TimeCursor(time: last.time, id: last.id)
            }
            #expect(paged == newestFirst)

            #expect(try await store.deleteLoginAttempts(before: at(5)) == 5)
            #expect(try await store.listLoginAttempts(LoginAttemptQuery(limit: 100)) == Array(newestFirst.prefix(5)))
        }
    }

    /// Metrics are computed from the stored state for a time window.
    public static func securityMetrics(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let since = at(0)
            let now = at(300)
            func attempt(_ ip: String, _ success: Bool, _ seconds: Double) -> LoginAttemptRecord {
                LoginAttemptRecord(
                    email: "m@example.com", ipAddress: ip, success: success,
                    failureReason: success ? nil : "INVALID_CREDENTIALS", time: at(seconds))
            }
            let records = [
                attempt("192.0.2.1", false, -10),  // before the window
                attempt("192.0.2.1", false, 5), attempt("192.0.2.1", false, 30), attempt("192.0.2.1", false, 200),
                attempt("192.0.2.2", false, 65), attempt("192.0.2.2", false, 70),
                attempt("192.0.2.3", false, 250),
                attempt("192.0.2.4", true, 10), attempt("192.0.2.1", true, 299),
                attempt("192.0.2.9", false, 300),  // at `now`: outside [since, now)
            ]
            for record in records { try await store.recordLoginAttempt(record, effects: .none) }

            let user = try await makeUser(store, email: "metrics@example.com")
            _ = try await store.createSession(makeSession(userID: user.id, refreshHash: "m1"), effects: .none)
            _ = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "m2", expireTime: at(100)),
                effects: .none)
            _ = try await store.blockIP(
                BlockedIPRecord(
                    ipAddress: "192.0.2.1", reason: "x", blockedUntil: at(1000),
                    permanent: false, createTime: at(1)), effects: .none)
            _ = try await store.blockIP(
                BlockedIPRecord(
                    ipAddress: "192.0.2.2", reason: "x", blockedUntil: at(200),
                    permanent: false, createTime: at(1)), effects: .none)
            _ = try await store.lockAccount(
                email: "a@example.com", until: at(400), now: at(1),
                escalationResetBefore: nil, effects: .none)
            _ = try await store.lockAccount(
                email: "b@example.com", until: at(100), now: at(1),
                escalationResetBefore: nil, effects: .none)

            let metrics = try await store.securityMetrics(since: since, now: now, topFailingIPLimit: 2)
            #expect(metrics.loginAttempts == 8)
            #expect(metrics.failedLogins == 6)
            #expect(metrics.successfulLogins == 2)
            #expect(metrics.uniqueIPs == 4)
            #expect(metrics.activeBlockedIPs == 1)
            #expect(metrics.lockedAccounts == 1)
            #expect(metrics.activeSessions == 1)
            #expect(
                metrics.topFailingIPs == [
                    .init(ipAddress: "192.0.2.1", count: 3), .init(ipAddress: "192.0.2.2", count: 2),
                ])
            #expect(metrics.failuresPerMinute == [2, 2, 0, 1, 1])

            let empty = try await store.securityMetrics(since: at(10_000), now: at(10_090), topFailingIPLimit: 5)
            #expect(empty.loginAttempts == 0 && empty.topFailingIPs.isEmpty)
            #expect(empty.failuresPerMinute == [0, 0])
        }
    }
}
