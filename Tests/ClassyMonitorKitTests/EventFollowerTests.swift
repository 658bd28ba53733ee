import ClassyAPI
import ClassyMonitorKit
import Foundation
import GRPCCore
import Synchronization
import Testing

/// A stream source that plays a script: one step per connection; when the script is done it ends the run.
final class ScriptedSource: SecurityEventSource {
    enum Ending: Sendable {
        case end
        case fail(RPCError)
    }

    struct Step: Sendable {
        var accept = true
        var sequences: [UInt64]
        var ending: Ending
    }

    struct Call: Sendable {
        var afterSequence: UInt64?
        var types: [Classy_Monitoring_V1_SecurityEventType]
        var token: String
    }

    private let state: Mutex<(steps: [Step], calls: [Call])>

    init(_ steps: [Step]) {
        state = Mutex((steps, []))
    }

    var calls: [Call] { state.withLock { $0.calls } }

    func stream(
        _ request: Classy_Monitoring_V1_StreamSecurityEventsRequest,
        token: String,
        connected: @escaping @Sendable () -> Void,
        event: @escaping @Sendable (SecurityEvent) async throws -> Void
    ) async throws {
        let step: Step? = state.withLock { state in
            state.calls.append(
                Call(
                    afterSequence: request.hasAfterSequence ? request.afterSequence : nil, types: request.types,
                    token: token))
            return state.steps.isEmpty ? nil : state.steps.removeFirst()
        }
        guard let step else { throw CancellationError() }  // script done: stop the follower
        guard step.accept else {
            if case .fail(let error) = step.ending { throw error }
            return
        }
        connected()
        for sequence in step.sequences {
            try await event(sequence == 0 ? Fixtures.heartbeat : Fixtures.failedLogin(sequence))
        }
        if case .fail(let error) = step.ending { throw error }
    }
}

/// An AuthService stand-in: numbered tokens that expire `lifetime` after issue on a settable clock.
final class FakeAuthenticator: Authenticating {
    struct Counts: Sendable, Equatable {
        var logins = 0
        var refreshes = 0
        var serviceTokens = 0
    }

    let counts = Mutex(Counts())
    let now: Mutex<Date>
    let lifetime: TimeInterval
    let refreshFails: Bool
    let loginError: RPCError?

    init(now: Date = Date(), lifetime: TimeInterval = 900, refreshFails: Bool = false, loginError: RPCError? = nil) {
        self.now = Mutex(now)
        self.lifetime = lifetime
        self.refreshFails = refreshFails
        self.loginError = loginError
    }

    func advance(by seconds: TimeInterval) { now.withLock { $0 += seconds } }
    var clock: @Sendable () -> Date { { self.now.withLock { $0 } } }

    private func issue(_ kind: String, refresh: Bool) -> IssuedToken {
        let n = counts.withLock { $0.logins + $0.refreshes + $0.serviceTokens } - 1
        return IssuedToken(
            accessToken: "\(kind)-\(n)",
            expireTime: clock().addingTimeInterval(lifetime),
            refreshToken: refresh ? "refresh-\(n)" : nil
        )
    }

    func login(email: String, password: String) async throws -> IssuedToken {
        if let loginError { throw loginError }
        counts.withLock { $0.logins += 1 }
        return issue("login", refresh: true)
    }

    func refresh(refreshToken: String) async throws -> IssuedToken {
        if refreshFails { throw Fixtures.rpcError(.unauthenticated, "REFRESH_TOKEN_REUSED") }
        counts.withLock { $0.refreshes += 1 }
        return issue("refresh", refresh: true)
    }

    func issueServiceToken(clientID: String, clientSecret: String) async throws -> IssuedToken {
        counts.withLock { $0.serviceTokens += 1 }
        return issue("service", refresh: false)
    }
}

/// Collects what the follower delivered, the statuses and the waits.
final class Recorder: Sendable {
    let sequences = Mutex<[UInt64]>([])
    let statuses = Mutex<[FollowerStatus]>([])
    let sleeps = Mutex<[Duration]>([])

    func follower(_ source: ScriptedSource, tokens: TokenProvider, giveUpAfter: Duration? = nil) -> EventFollower {
        EventFollower(
            source: source,
            tokens: tokens,
            types: [.loginAttempt],
            backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2),
            giveUpAfter: giveUpAfter,
            status: { status in self.statuses.withLock { $0.append(status) } },
            sleep: { delay in self.sleeps.withLock { $0.append(delay) } },
            random: { 1 }
        )
    }

    func deliver(_ event: SecurityEvent) {
        sequences.withLock { $0.append(event.sequence) }
    }
}

@Suite("Resume and reconnect")
struct EventFollowerTests {
    @Test("resumes after the last delivered sequence across failures, skipping replayed duplicates")
    func resume() async throws {
        let source = ScriptedSource([
            .init(sequences: [5, 6, 0, 7], ending: .fail(RPCError(code: .unavailable, message: "connection reset"))),
            .init(accept: false, sequences: [], ending: .fail(RPCError(code: .unavailable, message: "refused"))),
            .init(accept: false, sequences: [], ending: .fail(RPCError(code: .unavailable, message: "refused"))),
            // The server replays from 7 on (an overlap must not be printed twice).
            .init(sequences: [7, 8, 9], ending: .end),
            .init(
                sequences: [10],
                ending: .fail(Fixtures.rpcError(.resourceExhausted, "STREAM_OVERFLOW", retryAfter: .seconds(3)))),
            .init(sequences: [11], ending: .end),
        ])
        let recorder = Recorder()
        let tokens = TokenProvider(credentials: .accessToken("static"), authenticator: FakeAuthenticator())
        let last = try await recorder.follower(source, tokens: tokens).run(after: 4) { recorder.deliver($0) }

        #expect(last == 11)
        #expect(recorder.sequences.withLock { $0 } == [5, 6, 0, 7, 8, 9, 10, 11])
        #expect(source.calls.map(\.afterSequence) == [4, 7, 7, 7, 9, 10, 11])
        #expect(source.calls.allSatisfy { $0.types == [.loginAttempt] && $0.token == "static" })
        // Backoff: attempt 0 after the first drop, growing while refused, reset by the next connection; RetryInfo
        // (3 s) wins over a shorter backoff.
        #expect(
            recorder.sleeps.withLock { $0 } == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(100), .seconds(3),
                .milliseconds(100),
            ])
        let reconnects = recorder.statuses.withLock { $0 }.filter {
            if case .reconnecting = $0 { return true }
            return false
        }
        #expect(reconnects.count == 6)
        #expect(recorder.statuses.withLock { $0 }.first == .connecting(attempt: 0))
    }

    @Test("a live-only start sends no after_sequence until the first persisted event")
    func liveOnly() async throws {
        let source = ScriptedSource([
            .init(sequences: [0], ending: .fail(RPCError(code: .unavailable, message: "reset"))),
            .init(sequences: [3], ending: .end),
        ])
        let recorder = Recorder()
        let tokens = TokenProvider(credentials: .accessToken("static"), authenticator: FakeAuthenticator())
        try await recorder.follower(source, tokens: tokens).run(after: nil) { recorder.deliver($0) }
        #expect(source.calls.map(\.afterSequence) == [nil, nil, 3])
    }

    @Test("an expired token is renewed (password: Refresh) and the stream resumes where it was")
    func renewal() async throws {
        let source = ScriptedSource([
            .init(sequences: [1, 2], ending: .fail(Fixtures.rpcError(.unauthenticated, "TOKEN_EXPIRED"))),
            .init(sequences: [3], ending: .end),
        ])
        let recorder = Recorder()
        let authenticator = FakeAuthenticator()
        let tokens = TokenProvider(
            credentials: .password(email: "root@classy.test", password: "pw"), authenticator: authenticator,
            now: authenticator.clock
        )
        try await recorder.follower(source, tokens: tokens).run(after: 0) { recorder.deliver($0) }
        #expect(recorder.sequences.withLock { $0 } == [1, 2, 3])
        #expect(source.calls.map(\.token) == ["login-0", "refresh-1", "refresh-1"])
        #expect(source.calls.map(\.afterSequence) == [0, 2, 3])
        #expect(authenticator.counts.withLock { $0 } == .init(logins: 1, refreshes: 1))
        #expect(recorder.statuses.withLock { $0 }.contains(.renewingToken))
        // The renewal itself costs no backoff.
        #expect(recorder.sleeps.withLock { $0 } == [.milliseconds(100)])
    }

    @Test("a token the server keeps rejecting right after renewal is fatal (exit 3), not a loop")
    func rejectedAfterRenewal() async throws {
        let source = ScriptedSource([
            .init(accept: false, sequences: [], ending: .fail(Fixtures.rpcError(.unauthenticated, "SESSION_REVOKED"))),
            .init(accept: false, sequences: [], ending: .fail(Fixtures.rpcError(.unauthenticated, "SESSION_REVOKED"))),
        ])
        let recorder = Recorder()
        let tokens = TokenProvider(
            credentials: .clientCredentials(clientID: "svc", clientSecret: "s"), authenticator: FakeAuthenticator())
        do {
            try await recorder.follower(source, tokens: tokens).run(after: nil) { recorder.deliver($0) }
            Issue.record("expected a failure")
        } catch let failure as MonitorFailure {
            #expect(failure.exitCode == 3)
            #expect(failure.reason == "SESSION_REVOKED")
        }
        #expect(source.calls.map(\.token) == ["service-0", "service-1"])
    }

    @Test("CLASSY_TOKEN cannot be renewed: an expired token is fatal (exit 3) with advice")
    func staticTokenExpired() async throws {
        let source = ScriptedSource([
            .init(sequences: [1], ending: .fail(Fixtures.rpcError(.unauthenticated, "TOKEN_EXPIRED")))
        ])
        let recorder = Recorder()
        let tokens = TokenProvider(credentials: .accessToken("static"), authenticator: FakeAuthenticator())
        do {
            try await recorder.follower(source, tokens: tokens).run(after: nil) { recorder.deliver($0) }
            Issue.record("expected a failure")
        } catch let failure as MonitorFailure {
            #expect(failure.exitCode == 3)
            #expect(failure.message.contains("CLASSY_TOKEN cannot be renewed"))
        }
        #expect(recorder.sequences.withLock { $0 } == [1])
    }

    @Test("permission denied is fatal (exit 4); wrong password at sign-in is fatal (exit 3)")
    func fatalErrors() async throws {
        let forbidden = ScriptedSource([
            .init(accept: false, sequences: [], ending: .fail(Fixtures.rpcError(.permissionDenied, "FORBIDDEN")))
        ])
        let recorder = Recorder()
        let tokens = TokenProvider(credentials: .accessToken("user token"), authenticator: FakeAuthenticator())
        do {
            try await recorder.follower(forbidden, tokens: tokens).run(after: nil) { recorder.deliver($0) }
            Issue.record("expected a failure")
        } catch let failure as MonitorFailure {
            #expect(failure.exitCode == 4)
        }

        let source = ScriptedSource([.init(sequences: [1], ending: .end)])
        let badPassword = TokenProvider(
            credentials: .password(email: "root@classy.test", password: "wrong"),
            authenticator: FakeAuthenticator(loginError: Fixtures.rpcError(.unauthenticated, "INVALID_CREDENTIALS"))
        )
        do {
            try await recorder.follower(source, tokens: badPassword).run(after: nil) { recorder.deliver($0) }
            Issue.record("expected a failure")
        } catch let failure as MonitorFailure {
            #expect(failure.exitCode == 3)
            #expect(failure.message.contains("sign-in"))
        }
        #expect(source.calls.isEmpty)
    }

    @Test("an error of the consumer (stdout, state file) stops the follower without advancing the cursor")
    func deliveryError() async throws {
        struct Broken: Error {}
        let source = ScriptedSource([.init(sequences: [1, 2, 3], ending: .end)])
        let recorder = Recorder()
        let tokens = TokenProvider(credentials: .accessToken("t"), authenticator: FakeAuthenticator())
        await #expect(throws: DeliveryError.self) {
            try await recorder.follower(source, tokens: tokens).run(after: nil) { event in
                if event.sequence == 2 { throw Broken() }
                recorder.deliver(event)
            }
        }
        #expect(recorder.sequences.withLock { $0 } == [1])
    }
}

@Suite("Token provider")
struct TokenProviderTests {
    @Test("reuses a token until it nears expiry, then refreshes; a refused refresh falls back to Login")
    func renewAhead() async throws {
        let authenticator = FakeAuthenticator(lifetime: 900)
        let tokens = TokenProvider(
            credentials: .password(email: "root@classy.test", password: "pw"),
            authenticator: authenticator, renewalMargin: 60, now: authenticator.clock
        )
        #expect(try await tokens.token() == "login-0")
        authenticator.advance(by: 800)
        #expect(try await tokens.token() == "login-0")
        authenticator.advance(by: 60)  // 40 s left: inside the margin
        #expect(try await tokens.token() == "refresh-1")
        #expect(try await tokens.token(forceRenew: true) == "refresh-2")

        let failing = FakeAuthenticator(refreshFails: true)
        let relogin = TokenProvider(
            credentials: .password(email: "a@b.c", password: "pw"), authenticator: failing, now: failing.clock)
        #expect(try await relogin.token() == "login-0")
        #expect(try await relogin.token(forceRenew: true) == "login-1")
        #expect(failing.counts.withLock { $0 } == .init(logins: 2, refreshes: 0))
    }

    @Test("client credentials ask IssueServiceToken again; concurrent callers share one renewal")
    func serviceTokens() async throws {
        let authenticator = FakeAuthenticator()
        let tokens = TokenProvider(
            credentials: .clientCredentials(clientID: "svc", clientSecret: "s"), authenticator: authenticator)
        async let a = tokens.token()
        async let b = tokens.token()
        let (first, second) = try await (a, b)
        #expect(first == "service-0" && second == "service-0")
        #expect(authenticator.counts.withLock { $0 }.serviceTokens == 1)
        #expect(try await tokens.token(forceRenew: true) == "service-1")
    }
}
