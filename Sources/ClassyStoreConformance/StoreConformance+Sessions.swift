import ClassyCore
import ClassyStore
import Foundation
import Testing

extension StoreConformance {
    /// Create, look up, touch, revoke (one, all, all but one), list active with paging and count.
    public static func sessions(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "sessions@example.com")
            let other = try await makeUser(store, email: "other@example.com")
            let s1 = try await store.createSession(makeSession(userID: user.id, refreshHash: "h1"), effects: .none)
            let s2 = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "h2", createTime: at(1)), effects: .none)
            let s3 = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "h3", createTime: at(2)), effects: .none)
            let short = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "h4", createTime: at(3), expireTime: at(10)), effects: .none)
            let foreign = try await store.createSession(
                makeSession(userID: other.id, refreshHash: "h5", createTime: at(4)), effects: .none)

            #expect(try await store.session(id: s1.id) == s1)
            #expect(s1.lastUsedTime == s1.createTime && s1.generation == 0)
            #expect(try await store.session(refreshHash: "h2") == s2)
            #expect(try await store.session(refreshHash: "nope") == nil)
            let joined = try await store.sessionWithUser(refreshHash: "h2")
            #expect(joined?.session == s2)
            #expect(joined?.user?.id == user.id)
            #expect(try await store.sessionWithUser(refreshHash: "nope") == nil)
            #expect(try await store.session(id: "missing") == nil)
            let pair = try #require(try await store.sessionWithUser(id: foreign.id))
            #expect(pair.session == foreign)
            #expect(pair.user == other)
            #expect(try await store.sessionWithUser(id: "missing") == nil)
            await expectStoreError(.notFound) {
                try await store.createSession(makeSession(userID: "missing", refreshHash: "hx"), effects: .none)
            }
            await expectStoreError(.conflict) {
                try await store.createSession(makeSession(userID: user.id, refreshHash: "h1"), effects: .none)
            }

            #expect(try await store.touchSession(id: s1.id, time: at(60)))
            #expect(try await store.session(id: s1.id)?.lastUsedTime == at(60))
            #expect(try await store.touchSession(id: "missing", time: at(60)) == false)

            // Active listing, newest first, with keyset paging; the expired one is left out.
            let now = at(20)
            let page1 = try await store.activeSessions(userID: user.id, now: now, after: nil, limit: 2)
            #expect(page1.map(\.id) == [s3.id, s2.id])
            let cursor = TimeCursor(time: s2.createTime, id: s2.id)
            let page2 = try await store.activeSessions(userID: user.id, now: now, after: cursor, limit: 2)
            #expect(page2.map(\.id) == [s1.id])
            #expect(try await store.countActiveSessions(userID: user.id, now: now) == 3)
            #expect(try await store.countActiveSessions(userID: user.id, now: at(5)) == 4)
            #expect(try await store.countActiveSessions(userID: nil, now: now) == 4)

            // All but one.
            let others = try await store.revokeSessions(
                .allOfUserExcept(userID: user.id, keptSessionID: s3.id), reason: "logout_others", now: now,
                effects: auditEffects("session.revoke_others", time: now))
            #expect(others.sorted() == [s1.id, s2.id].sorted())
            let revoked = try #require(try await store.session(id: s1.id))
            #expect(revoked.revokedTime == now && revoked.revokeReason == "logout_others")
            #expect(!revoked.isActive(at: now))
            #expect(try await store.session(id: short.id)?.revokedTime == nil, "expired sessions are left alone")
            #expect(try await store.countActiveSessions(userID: user.id, now: now) == 1)
            #expect(try await store.listAuditLogs(AuditQuery(action: "session.revoke_others")).count == 1)

            // One, then again (nothing left: no effects written).
            #expect(
                try await store.revokeSession(
                    id: s3.id, reason: "logout", now: at(21),
                    effects: auditEffects("session.revoke_others", time: at(21))))
            #expect(
                try await store.revokeSession(
                    id: s3.id, reason: "logout", now: at(22),
                    effects: auditEffects("session.revoke_others", time: at(22))) == false)
            #expect(try await store.session(id: s3.id)?.revokedTime == at(21))
            #expect(try await store.listAuditLogs(AuditQuery(action: "session.revoke_others")).count == 2)
            #expect(
                try await store.revokeSessions(.session(id: "missing"), reason: "x", now: now, effects: .none)
                    .isEmpty)

            // All of a user.
            let n1 = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "n1", createTime: at(30)), effects: .none)
            let n2 = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "n2", createTime: at(31)), effects: .none)
            let all = try await store.revokeSessions(
                .allOfUser(userID: user.id), reason: "logout_all", now: at(32),
                effects: .none)
            #expect(all.sorted() == [n1.id, n2.id].sorted())
            #expect(try await store.countActiveSessions(userID: user.id, now: at(32)) == 0)
            #expect(try await store.countActiveSessions(userID: other.id, now: at(32)) == 1)

            // Deactivation revokes in the same transaction; deletion revokes all.
            let k1 = try await store.createSession(
                makeSession(userID: other.id, refreshHash: "k1", createTime: at(40)), effects: .none)
            let kept = try await store.updateUser(
                id: other.id, ifETag: nil, changes: UserChanges(passwordHash: "new"),
                revokingSessions: .allExcept(keptSessionID: k1.id, reason: "password_changed"), effects: .none,
                now: at(41))
            #expect(kept.revokedSessionIDs == [foreign.id])
            let deactivated = try await store.updateUser(
                id: other.id, ifETag: nil, changes: UserChanges(isActive: false),
                revokingSessions: .all(reason: "deactivated"), effects: .none, now: at(42))
            #expect(deactivated.revokedSessionIDs == [k1.id])
            #expect(try await store.session(id: k1.id)?.revokeReason == "deactivated")
            let k2 = try await store.createSession(
                makeSession(userID: other.id, refreshHash: "k2", createTime: at(43)), effects: .none)
            let deleted = try await store.deleteUser(id: other.id, ifETag: nil, effects: .none, now: at(44))
            #expect(deleted.revokedSessionIDs == [k2.id])
            await expectStoreError(.notFound) {
                try await store.createSession(makeSession(userID: other.id, refreshHash: "k3"), effects: .none)
            }

            // Retention of expired sessions.
            #expect(try await store.deleteSessions(expiredBefore: at(11)) == 1)
            #expect(try await store.session(id: short.id) == nil)
            #expect(try await store.session(id: s1.id) != nil)
        }
    }

    /// The refresh-token compare-and-swap: rotate, replay within grace, reuse after grace or of older tokens.
    /// No active session, a known device (all three fields equal), a new device; revoked and expired sessions
    /// and other users' sessions do not count.
    public static func deviceSighting(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "devices@example.com")
            let other = try await makeUser(store, email: "devices-other@example.com")
            let known = SessionDevice(deviceName: "test device", platform: "linux", userAgent: "conformance/1.0")
            #expect(try await store.deviceSighting(userID: user.id, device: known, now: at(1)) == .noActiveSessions)

            _ = try await store.createSession(makeSession(userID: other.id, refreshHash: "o1"), effects: .none)
            #expect(try await store.deviceSighting(userID: user.id, device: known, now: at(1)) == .noActiveSessions)

            let short = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "d1", expireTime: at(10)), effects: .none)
            #expect(SessionDevice(short) == known)
            #expect(try await store.deviceSighting(userID: user.id, device: known, now: at(1)) == .knownDevice)
            for changed in [
                SessionDevice(deviceName: "other device", platform: "linux", userAgent: "conformance/1.0"),
                SessionDevice(deviceName: "test device", platform: "macos", userAgent: "conformance/1.0"),
                SessionDevice(deviceName: "test device", platform: "linux", userAgent: "conformance/2.0"),
            ] {
                #expect(try await store.deviceSighting(userID: user.id, device: changed, now: at(1)) == .newDevice)
            }
            // Expired: as if it never was.
            #expect(try await store.deviceSighting(userID: user.id, device: known, now: at(11)) == .noActiveSessions)

            // A session from another device beside it, then this device's session revoked.
            var elsewhere = makeSession(userID: user.id, refreshHash: "d2", createTime: at(2))
            elsewhere.deviceName = "phone"
            _ = try await store.createSession(elsewhere, effects: .none)
            #expect(try await store.deviceSighting(userID: user.id, device: known, now: at(5)) == .knownDevice)
            try await store.revokeSession(id: short.id, reason: "logout", now: at(3))
            #expect(try await store.deviceSighting(userID: user.id, device: known, now: at(5)) == .newDevice)
            #expect(
                try await store.deviceSighting(userID: user.id, device: SessionDevice(elsewhere), now: at(5))
                    == .knownDevice)
        }
    }

    public static func refreshRotation(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "rotate@example.com")
            let session = try await store.createSession(makeSession(userID: user.id, refreshHash: "r0"), effects: .none)
            let pair1 = Data("pair-1".utf8)

            let first = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: session.id, presentedHash: "r0", newHash: "r1", graceUntil: at(11),
                    newExpireTime: at(1000), accessTokenID: "jti-1", issuedPayload: pair1, now: at(1)))
            guard case .rotated(let rotated) = first else {
                Issue.record("expected .rotated, got \(first)")
                return
            }
            #expect(rotated.currentRefreshHash == "r1" && rotated.previousRefreshHash == "r0")
            #expect(rotated.previousGraceUntil == at(11) && rotated.generation == 1)
            #expect(rotated.lastUsedTime == at(1) && rotated.expireTime == at(1000))
            #expect(rotated.currentAccessTokenID == "jti-1" && rotated.lastIssuedPayload == pair1)
            #expect(try await store.session(id: session.id) == rotated)
            #expect(try await store.session(refreshHash: "r0")?.id == session.id)
            #expect(try await store.session(refreshHash: "r1")?.id == session.id)

            // The previous token within grace gets the same pair back, and changes nothing.
            let replay = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: session.id, presentedHash: "r0", newHash: "other", graceUntil: at(20),
                    now: at(5)))
            #expect(replay == .withinGrace(rotated))
            #expect(try await store.session(refreshHash: "other") == nil)

            let second = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: session.id, presentedHash: "r1", newHash: "r2", graceUntil: at(30),
                    now: at(20)))
            guard case .rotated(let rotated2) = second else {
                Issue.record("expected .rotated, got \(second)")
                return
            }
            #expect(rotated2.generation == 2 && rotated2.expireTime == at(1000))
            #expect(rotated2.lastIssuedPayload == nil)

            // A token older than the previous one is reuse, even within the current grace window.
            let older = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: session.id, presentedHash: "r0", newHash: "x", graceUntil: at(40),
                    now: at(21)))
            #expect(older == .reused(rotated2))
            #expect(try await store.session(refreshHash: "r0")?.id == session.id)

            // Unknown tokens and sessions are not found.
            let unknown = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: session.id, presentedHash: "zz", newHash: "x", graceUntil: at(40),
                    now: at(21)))
            #expect(unknown == .notFound)
            let noSession = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: "missing", presentedHash: "r2", newHash: "x", graceUntil: at(40),
                    now: at(21)))
            #expect(noSession == .notFound)

            // The previous token after grace is reuse; with reuse effects the session is revoked atomically.
            var reuseEffects = StoreEffects()
            reuseEffects.event(event(.refreshTokenReused, session.id, time: at(31)))
            let before = try await store.latestEventSequence()
            let late = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: session.id, presentedHash: "r1", newHash: "x", graceUntil: at(40),
                    now: at(31)),
                effects: .none,
                reuseEffects: reuseEffects)
            guard case .reused(let reused) = late else {
                Issue.record("expected .reused, got \(late)")
                return
            }
            #expect(reused.revokedTime == at(31) && reused.revokeReason == "refresh_token_reused")
            #expect(try await store.session(id: session.id) == reused)
            let appended = try await store.events(after: before, types: nil, limit: 10)
            #expect(appended.map(\.kind) == [.refreshTokenReused])

            // Any token of a revoked session is refused.
            let afterRevoke = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: session.id, presentedHash: "r2", newHash: "r3", graceUntil: at(50),
                    now: at(32)))
            #expect(afterRevoke == .revokedOrExpired(reused))

            // An expired session is refused.
            let expiring = try await store.createSession(
                makeSession(userID: user.id, refreshHash: "e0", expireTime: at(10)), effects: .none)
            let expired = try await store.rotateRefreshToken(
                RefreshRotation(
                    sessionID: expiring.id, presentedHash: "e0", newHash: "e1", graceUntil: at(30),
                    now: at(20)))
            #expect(expired == .revokedOrExpired(expiring))

            // Effects ride only with a successful rotation.
            let fresh = try await store.createSession(makeSession(userID: user.id, refreshHash: "f0"), effects: .none)
            _ = try await store.rotateRefreshToken(
                RefreshRotation(sessionID: fresh.id, presentedHash: "f0", newHash: "f1", graceUntil: at(2), now: at(1)),
                effects: auditEffects("token.refresh", time: at(1)), reuseEffects: nil)
            _ = try await store.rotateRefreshToken(
                RefreshRotation(sessionID: fresh.id, presentedHash: "f0", newHash: "f9", graceUntil: at(2), now: at(1)),
                effects: auditEffects("token.refresh", time: at(1)), reuseEffects: nil)
            #expect(try await store.listAuditLogs(AuditQuery(action: "token.refresh")).count == 1)
        }
    }

    /// N concurrent rotations of the same token: exactly one rotates; with grace the rest replay, without it
    /// the rest are reuse.
    public static func refreshRotationConcurrent(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "rotate-race@example.com")
            let session = try await store.createSession(makeSession(userID: user.id, refreshHash: "c0"), effects: .none)
            let results = await concurrently(60) { index in
                try await store.rotateRefreshToken(
                    RefreshRotation(
                        sessionID: session.id, presentedHash: "c0", newHash: "c1-\(index)",
                        graceUntil: at(10), issuedPayload: Data("pair-\(index)".utf8), now: at(1)))
            }
            let outcomes = results.compactMap { try? $0.get() }
            #expect(outcomes.count == 60)
            let winners = outcomes.compactMap { outcome -> SessionRecord? in
                if case .rotated(let session) = outcome { return session }
                return nil
            }
            #expect(winners.count == 1)
            let winner = try #require(winners.first)
            for outcome in outcomes {
                switch outcome {
                case .rotated: continue
                case .withinGrace(let replayed):
                    #expect(replayed.currentRefreshHash == winner.currentRefreshHash)
                    #expect(replayed.lastIssuedPayload == winner.lastIssuedPayload)
                default: Issue.record("unexpected outcome \(outcome)")
                }
            }
            #expect(try await store.session(id: session.id) == winner)

            let strict = try await store.createSession(makeSession(userID: user.id, refreshHash: "d0"), effects: .none)
            let strictResults = await concurrently(50) { index in
                try await store.rotateRefreshToken(
                    RefreshRotation(
                        sessionID: strict.id, presentedHash: "d0", newHash: "d1-\(index)",
                        graceUntil: at(1), now: at(1)))
            }
            var rotatedCount = 0
            var reusedCount = 0
            for case .success(let outcome) in strictResults {
                if case .rotated = outcome { rotatedCount += 1 }
                if case .reused = outcome { reusedCount += 1 }
            }
            #expect(rotatedCount == 1)
            #expect(reusedCount == 49)
        }
    }
}
