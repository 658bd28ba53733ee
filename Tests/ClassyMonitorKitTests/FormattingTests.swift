import ClassyAPI
import ClassyMonitorKit
import Foundation
import GRPCCore
import Testing

@Suite("JSON schema, lines, parsing")
struct FormattingTests {
    @Test("a login attempt event has the documented JSON form, keys in order")
    func loginAttemptJSON() {
        #expect(
            EventJSON.event(Fixtures.failedLogin(12)).serialized
                == #"{"sequence":12,"time":"2026-11-25T23:50:01.250Z","type":"login_attempt","data":{"id":"a-12","email":"ada@example.com","ip_address":"203.0.113.7","success":false,"failure_reason":"invalid_credentials","user_id":"","session_id":"","user_agent":"curl/8","device_name":"laptop","time":"2026-11-25T23:50:01.250Z"}}"#
        )
        #expect(
            EventJSON.event(Fixtures.successfulLogin(13)).serialized.contains(
                #""success":true,"failure_reason":null,"user_id":"u-1""#))
    }

    @Test("every event type has its JSON form")
    func otherEventsJSON() {
        let blocked = SecurityEvent.with {
            $0.sequence = 3
            $0.time = Fixtures.time
            $0.ipBlocked = .with {
                $0.ipAddress = "203.0.113.0/24"
                $0.reason = "brute force"
                $0.attempts = 20
                $0.blockedUntil = .init(seconds: Fixtures.time.seconds + 900)
                $0.createTime = Fixtures.time
            }
        }
        #expect(
            EventJSON.event(blocked).serialized
                == #"{"sequence":3,"time":"2026-11-25T23:50:01.250Z","type":"ip_blocked","data":{"ip_address":"203.0.113.0/24","reason":"brute force","attempts":20,"blocked_until":"2026-11-26T00:05:01.000Z","permanent":false,"create_time":"2026-11-25T23:50:01.250Z","created_by":""}}"#
        )
        let locked = SecurityEvent.with {
            $0.sequence = 4
            $0.accountLocked = .with {
                $0.email = "ada@example.com"
                $0.failedAttempts = 5
                $0.ipAddress = "203.0.113.7"
            }
        }
        #expect(
            EventJSON.event(locked).serialized
                == #"{"sequence":4,"time":null,"type":"account_locked","data":{"email":"ada@example.com","user_id":"","failed_attempts":5,"locked_until":null,"ip_address":"203.0.113.7"}}"#
        )
        let audit = SecurityEvent.with {
            $0.sequence = 5
            $0.auditLog = .with {
                $0.id = "l-1"
                $0.action = "ip.block"
                $0.resourceType = "ip"
                $0.resourceID = "203.0.113.7"
                $0.details = ["z": "last", "a": "first \"quoted\"\n"]
            }
        }
        #expect(EventJSON.event(audit).serialized.contains(#""details":{"a":"first \"quoted\"\n","z":"last"}"#))
        let metrics = SecurityEvent.with {
            $0.securityMetrics = .with {
                $0.window = .init(seconds: 3600)
                $0.loginAttempts = 9
                $0.failedLogins = 4
                $0.topFailingIps = [
                    .with {
                        $0.ipAddress = "203.0.113.7"; $0.count = 4
                    }
                ]
                $0.failuresPerMinute = [0, 1, 3]
            }
        }
        #expect(
            EventJSON.event(metrics).serialized
                == #"{"sequence":0,"time":null,"type":"security_metrics","data":{"window_seconds":3600,"login_attempts":9,"failed_logins":4,"successful_logins":0,"unique_ips":0,"active_blocked_ips":0,"locked_accounts":0,"active_sessions":0,"top_failing_ips":[{"ip_address":"203.0.113.7","count":4}],"failures_per_minute":[0,1,3]}}"#
        )
        let reused = SecurityEvent.with {
            $0.sequence = 6
            $0.refreshTokenReused = .with {
                $0.userID = "u"; $0.sessionID = "s"; $0.ipAddress = "::1"
            }
        }
        #expect(
            EventJSON.event(reused).serialized.hasSuffix(
                #""type":"refresh_token_reused","data":{"user_id":"u","session_id":"s","ip_address":"::1"}}"#))
        let unblocked = SecurityEvent.with {
            $0.sequence = 7; $0.ipUnblocked = .with { $0.ipAddress = "10.0.0.1" }
        }
        #expect(
            EventJSON.event(unblocked).serialized.hasSuffix(
                #""type":"ip_unblocked","data":{"ip_address":"10.0.0.1","reason":"","unblocked_by":""}}"#))
    }

    @Test("JSON strings escape quotes, backslashes and control characters")
    func escaping() {
        #expect(JSONValue.string("a\"b\\c\u{01}\u{7F}é").serialized == #""a\"b\\c\u0001\u007fé""#)
    }

    @Test("human-readable lines, without colour")
    func lines() {
        #expect(
            EventLine.render(Fixtures.failedLogin(12), color: false)
                == #"2026-11-25 23:50:01Z #12 LOGIN FAILED   ada@example.com from 203.0.113.7: invalid credentials (device "laptop")"#
        )
        #expect(
            EventLine.render(Fixtures.successfulLogin(13), color: false)
                == "2026-11-25 23:50:01Z #13 login ok       root@classy.test from 127.0.0.1"
        )
        let colored = EventLine.render(Fixtures.failedLogin(12), color: true)
        #expect(colored.contains("\u{1B}[31mLOGIN FAILED"))
        #expect(colored.hasSuffix("\u{1B}[0m"))
    }

    @Test("--types accepts the schema names, rejects others with the list")
    func types() throws {
        #expect(try EventKind.parseList("login_attempt, ip-blocked,login_attempt") == [.loginAttempt, .ipBlocked])
        #expect(throws: MonitorFailure.self) { try EventKind.parseList("logins") }
        do {
            _ = try EventKind.parseList("heartbeat")
            Issue.record("heartbeat is not filterable")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.contains("login_attempt, ip_blocked"))
        }
    }

    @Test("--server parses HOST:PORT, [IPv6]:PORT and HOST")
    func endpoints() throws {
        #expect(try ServerEndpoint(parsing: "127.0.0.1:6000") == ServerEndpoint(host: "127.0.0.1", port: 6000))
        #expect(try ServerEndpoint(parsing: "[::1]:7000") == ServerEndpoint(host: "::1", port: 7000))
        #expect(try ServerEndpoint(parsing: "monitor.example") == ServerEndpoint(host: "monitor.example", port: 50051))
        #expect(try ServerEndpoint(parsing: "[::1]:7000").description == "[::1]:7000")
        for bad in ["", ":1", "host:0", "host:99999", "host:x", "::1", "[::1", "[::1]x"] {
            #expect(throws: MonitorFailure.self, "\(bad)") { try ServerEndpoint(parsing: bad) }
        }
    }

    @Test("backoff grows exponentially to the maximum, jittered within [ceiling/2, ceiling]")
    func backoff() {
        let backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(30), multiplier: 2)
        #expect(backoff.ceiling(attempt: 0) == .milliseconds(250))
        #expect(backoff.ceiling(attempt: 3) == .seconds(2))
        #expect(backoff.ceiling(attempt: 20) == .seconds(30))
        #expect(backoff.ceiling(attempt: 1_000) == .seconds(30))
        #expect(backoff.delay(attempt: 2, unit: 0) == .milliseconds(500))
        #expect(backoff.delay(attempt: 2, unit: 1) == .seconds(1))
        for attempt in 0..<12 {
            let delay = backoff.delay(attempt: attempt)
            #expect(delay >= backoff.ceiling(attempt: attempt) / 2 && delay <= backoff.ceiling(attempt: attempt))
        }
    }

    @Test("sparklines scale to the peak; zero is the lowest bar")
    func sparkline() {
        #expect(Sparkline.bars([0, 1, 2, 4, 8]) == "▁▂▃▅█")
        #expect(Sparkline.bars([0, 0]) == "▁▁")
        #expect(Sparkline.bars([]) == "")
    }

    @Test("server errors map to exit statuses and retry decisions")
    func failures() {
        let expired = Fixtures.rpcError(.unauthenticated, "TOKEN_EXPIRED")
        #expect(MonitorFailure.disposition(of: expired) == .renewToken)
        #expect(
            MonitorFailure.disposition(of: RPCError(code: .unavailable, message: "connection refused"))
                == .retry(after: nil))
        #expect(
            MonitorFailure.disposition(
                of: Fixtures.rpcError(.resourceExhausted, "STREAM_OVERFLOW", retryAfter: .seconds(2)))
                == .retry(after: .seconds(2))
        )
        let forbidden = Fixtures.rpcError(.permissionDenied, "FORBIDDEN")
        guard case .fatal(let failure) = MonitorFailure.disposition(of: forbidden) else {
            Issue.record("FORBIDDEN must be fatal")
            return
        }
        #expect(failure.exitCode == 4)
        #expect(failure.reason == "FORBIDDEN")
        #expect(
            MonitorFailure(Fixtures.rpcError(.unauthenticated, "INVALID_CREDENTIALS"), operation: "Login").exitCode == 3
        )
        #expect(
            MonitorFailure(Fixtures.rpcError(.resourceExhausted, "ACCOUNT_LOCKED"), operation: "Login").exitCode == 3)
        #expect(MonitorFailure(Fixtures.rpcError(.notFound, "NOT_FOUND"), operation: "UnblockIP").exitCode == 6)
        #expect(
            MonitorFailure(Fixtures.rpcError(.invalidArgument, "INVALID_FIELD"), operation: "BlockIP").exitCode == 2)
        #expect(
            MonitorFailure(RPCError(code: .unavailable, message: "refused"), operation: "GetSecurityMetrics").exitCode
                == 5)
        #expect(
            MonitorFailure(RPCError(code: .deadlineExceeded, message: "timeout"), operation: "GetSecurityMetrics")
                .exitCode == 5)
    }
}
