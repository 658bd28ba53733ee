import ClassyAPI
import ClassyMonitorKit
import Foundation
import SwiftProtobuf
import Testing

@Suite("Dashboard renderer")
struct DashboardRendererTests {
    /// A busy state at a fixed time.
    static func state() -> DashboardState {
        var state = DashboardState(
            server: "127.0.0.1:50051", connection: .connected, now: Date(timeIntervalSince1970: 1_795_650_661))
        state.apply(
            .with {
                $0.securityMetrics = .with {
                    $0.window = .init(seconds: 3600)
                    $0.loginAttempts = 42
                    $0.failedLogins = 17
                    $0.successfulLogins = 25
                    $0.uniqueIps = 4
                    $0.activeBlockedIps = 2
                    $0.lockedAccounts = 1
                    $0.activeSessions = 9
                    $0.failuresPerMinute = Array(repeating: 0, count: 50) + [1, 0, 2, 4, 8, 3, 0, 1, 0, 6]
                }
            }
        )
        state.apply(Fixtures.successfulLogin(40))
        state.apply(Fixtures.failedLogin(41, email: "mallory@attack.test", ip: "198.51.100.23"))
        state.apply(
            Fixtures.failedLogin(
                42, email: "a-very-long-email-address-that-will-not-fit@some.example.org", ip: "2001:db8::1"))
        state.apply(
            .with {
                $0.sequence = 43
                $0.ipBlocked = .with {
                    $0.ipAddress = "198.51.100.23"
                    $0.reason = "20 failed logins in 15 min"
                    $0.attempts = 20
                    $0.blockedUntil = .init(seconds: 1_795_651_501)
                }
            }
        )
        state.apply(
            .with {
                $0.sequence = 44
                $0.ipBlocked = .with {
                    $0.ipAddress = "203.0.113.0/24"
                    $0.reason = "manual"
                    $0.permanent = true
                }
            }
        )
        return state
    }

    /// Every line ends in `|` so trailing spaces are visible and survive editors.
    static let golden80x24 = """
         Classy Book security monitor  127.0.0.1:50051           ● connected  23:51:01Z |
        ────────────────────────────────────────────────────────────────────────────────|
         Last 1h: 42 logins  17 failed  25 ok  4 IPs  2 blocked  1 locked  9 sessions   |
         Failed logins per minute (last 60 min, peak 8)                                 |
                           ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▂▁▃▅█▄▁▂▁▇ |
        ── Latest login attempts ───────────────────────────────────────────────────────|
         TIME      RESULT  EMAIL                     IP              REASON             |
         23:50:01  FAIL    a-very-long-email-addre…  2001:db8::1     invalid credentials|
         23:50:01  FAIL    mallory@attack.test       198.51.100.23   invalid credentials|
         23:50:01  ok      root@classy.test          127.0.0.1                          |
                                                                                        |
                                                                                        |
                                                                                        |
                                                                                        |
                                                                                        |
                                                                                        |
                                                                                        |
                                                                                        |
                                                                                        |
        ── Blocked IPs (2) ─────────────────────────────────────────────────────────────|
         IP                      UNTIL                 ATTEMPTS  REASON                 |
         203.0.113.0/24          permanent             0         manual                 |
         198.51.100.23           2026-11-26 00:05:01Z  20        20 failed logins in 15…|
         seq 44 · 5 events · q quit                                                     |
        """

    @Test("an 80x24 screen matches the golden picture")
    func golden() {
        let lines = DashboardRenderer.lines(Self.state(), columns: 80, rows: 24, color: false)
        let text = lines.map { $0 + "|" }.joined(separator: "\n")
        #expect(text == Self.golden80x24, "\n\(text)")
    }

    @Test("every size gives exactly rows lines of exactly columns characters")
    func sizes() {
        var state = Self.state()
        for index in 0..<30 {
            state.apply(Fixtures.failedLogin(UInt64(100 + index), email: "user\(index)@example.com"))
        }
        for (columns, rows) in [(40, 12), (80, 24), (132, 50), (200, 60), (41, 13)] {
            let lines = DashboardRenderer.lines(state, columns: columns, rows: rows, color: false)
            #expect(lines.count == rows, "\(columns)x\(rows)")
            #expect(lines.allSatisfy { $0.count == columns }, "\(columns)x\(rows)")
            #expect(lines.last?.contains("q quit") == true)
        }
        // More rows show more attempts.
        let small = DashboardRenderer.lines(state, columns: 80, rows: 24, color: false).filter { $0.contains("FAIL") }
            .count
        let tall = DashboardRenderer.lines(state, columns: 80, rows: 50, color: false).filter { $0.contains("FAIL") }
            .count
        #expect(tall > small)
    }

    @Test("too small a terminal says so; an empty state shows placeholders; colour adds ANSI only")
    func edges() {
        let tiny = DashboardRenderer.lines(Self.state(), columns: 30, rows: 8, color: false)
        #expect(tiny.count == 8)
        #expect(tiny[0].hasPrefix("Terminal too small (30x8)"))

        let empty = DashboardRenderer.lines(
            DashboardState(server: "h:1", now: Date(timeIntervalSince1970: 0)), columns: 60, rows: 14, color: false)
        #expect(empty.contains { $0.contains("waiting for the first snapshot") })
        #expect(empty.contains { $0.contains("(none yet)") })
        #expect(empty.contains { $0.contains("(none)") })
        #expect(empty[0].contains("connecting"))

        let colored = DashboardRenderer.lines(Self.state(), columns: 80, rows: 24, color: true)
        #expect(colored.joined().contains("\u{1B}["))
        let stripped = colored.map {
            $0.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        }
        #expect(stripped == DashboardRenderer.lines(Self.state(), columns: 80, rows: 24, color: false))
    }

    @Test("blocks are added, replaced and removed by events, and expire")
    func stateUpdates() {
        var state = Self.state()
        #expect(state.blockedIPs.map(\.ipAddress) == ["203.0.113.0/24", "198.51.100.23"])
        state.apply(
            .with {
                $0.sequence = 45; $0.ipUnblocked = .with { $0.ipAddress = "203.0.113.0/24" }
            })
        #expect(state.blockedIPs.map(\.ipAddress) == ["198.51.100.23"])
        state.now = Date(timeIntervalSince1970: 1_795_651_502)
        state.expireBlocks()
        #expect(state.blockedIPs.isEmpty)
        #expect(state.lastSequence == 45)
        #expect(state.eventsReceived == 6)
        #expect(state.attempts.first?.email == "a-very-long-email-address-that-will-not-fit@some.example.org")
    }
}
