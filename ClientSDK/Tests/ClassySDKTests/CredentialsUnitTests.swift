import Foundation
import Synchronization
import Testing

@_spi(Testing) @testable import ClassySDK

/// The credentials manager and token stores on their own (no server).
@Suite("SDK credentials without a server")
struct CredentialsUnitTests {
    static let account = Account(userID: "u1", email: "ada@example.com", role: .user, sessionID: "s1")

    static func credentials(access: String, expiresIn seconds: TimeInterval, now: Date) -> StoredCredentials {
        StoredCredentials(
            account: account, accessToken: access, accessTokenExpireTime: now.addingTimeInterval(seconds),
            refreshToken: "refresh-\(access)", refreshTokenExpireTime: now.addingTimeInterval(7 * 86_400)
        )
    }

    @Test(
        "an early refresh that cannot reach the server keeps the token that still works; an expired one fails OFFLINE")
    func earlyRefreshOffline() async throws {
        let now = Date()
        let clock = LockedBox(now)
        let offline = ClassyClientError(status: .unavailable, reason: ClassyClientError.Reason.offline, message: "down")
        let store = InMemoryTokenStore(Self.credentials(access: "a1", expiresIn: 30, now: now))
        let manager = CredentialsManager(
            store: store, refresher: { _ in throw offline }, leeway: .seconds(60), now: { clock.value },
            hooks: ClientHooks(), states: Broadcaster()
        )
        #expect(try await manager.accessToken() == "a1")
        clock.value = now.addingTimeInterval(31)
        await expectClientError("OFFLINE") { _ = try await manager.accessToken() }
        #expect(await manager.account == Self.account, "offline is not a reason to sign out")
    }

    @Test("concurrent refreshes of the same token share one Refresh; a refused refresh token signs out with the reason")
    func singleFlightAndRefusal() async throws {
        let now = Date()
        let calls = Counter()
        let store = InMemoryTokenStore(Self.credentials(access: "a1", expiresIn: 600, now: now))
        let states = Broadcaster<AuthState>()
        let manager = CredentialsManager(
            store: store,
            refresher: { token in
                let call = calls.increment()
                try await Task.sleep(for: .milliseconds(50))
                if call > 1 {
                    throw ClassyClientError(status: .unauthenticated, reason: "TOKEN_INVALID", message: "unknown")
                }
                #expect(token == "refresh-a1")
                return Self.credentials(access: "a2", expiresIn: 600, now: now)
            },
            leeway: .seconds(60), now: { now }, hooks: ClientHooks(), states: states
        )
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await manager.refresh(replacing: "a1").accessToken } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(tokens == ["a2"])
        #expect(calls.value == 1)
        #expect(try store.load()?.accessToken == "a2")
        await expectClientError("TOKEN_INVALID") { _ = try await manager.refresh(replacing: "a2") }
        #expect(states.latest == .signedOut(.refreshFailed(reason: "TOKEN_INVALID")))
        #expect(try store.load() == nil)
    }

    @Test("FileTokenStore writes 0600 in a 0700 folder, reads back, replaces atomically and clears")
    func fileStore() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("nested/tokens.json").path
            let store = FileTokenStore(path: path)
            #expect(try store.load() == nil)
            let first = Self.credentials(access: "a1", expiresIn: 600, now: Date(timeIntervalSince1970: 1_800_000_000))
            try store.save(first)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
            let folder = try FileManager.default.attributesOfItem(
                atPath: directory.appendingPathComponent("nested").path)
            #expect((folder[.posixPermissions] as? NSNumber)?.intValue == 0o700)
            #expect(try store.load() == first)
            let second = Self.credentials(access: "a2", expiresIn: 600, now: Date(timeIntervalSince1970: 1_800_000_000))
            try store.save(second)
            #expect(try store.load() == second)
            let leftovers = try FileManager.default.contentsOfDirectory(
                atPath: directory.appendingPathComponent("nested").path)
            #expect(leftovers == ["tokens.json"])
            try store.clear()
            #expect(try store.load() == nil)
        }
    }

    @Test("which SESSION_REVOKED notifications end this client's session")
    func sessionRevokedNotifications() {
        func notification(_ data: [String: String]) -> UserNotification {
            UserNotification(
                id: "n", kind: .sessionRevoked, title: "", body: "", data: data, createTime: nil, read: false,
                cursor: "c"
            )
        }
        let account = Self.account
        #expect(NotificationsAPI.endsSession(notification(["session_id": "s1"]), of: account))
        #expect(!NotificationsAPI.endsSession(notification(["session_id": "s2"]), of: account))
        #expect(NotificationsAPI.endsSession(notification(["reason": "account_deleted", "scope": "all"]), of: account))
        #expect(NotificationsAPI.endsSession(notification(["by_session_id": "s2"]), of: account))
        #expect(!NotificationsAPI.endsSession(notification(["by_session_id": "s1"]), of: account))
        var other = notification(["session_id": "s1"])
        other.kind = .newSignIn
        #expect(!NotificationsAPI.endsSession(other, of: account))
    }

    @Test("backoff grows, is capped, and is jittered within its bounds")
    func backoff() {
        let backoff = ClassyClient.Backoff(
            initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2, jitter: 0.2)
        for attempt in 0..<12 {
            let base = min(0.1 * pow(2, Double(attempt)), 1.0)
            let delay = backoff.delay(attempt: attempt).seconds
            #expect(delay >= base * 0.8 - 0.001 && delay <= base * 1.2 + 0.001, "attempt \(attempt): \(delay)")
        }
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() -> Int {
        count.withLock { count in
            count += 1
            return count
        }
    }
}
