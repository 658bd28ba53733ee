import ArgumentParser
import ClassyAPI
import ClassyMonitorKit
import Foundation
import SwiftProtobuf

#if canImport(Glibc)
    import Glibc
#endif

/// Output flags of the one-shot subcommands.
struct OutputOptions: ParsableArguments {
    @Flag(help: "JSON: one object per line (schema in the README).")
    var json = false

    @Flag(name: .customLong("no-color"), help: "Never colour the output.")
    var noColor = false

    var color: Bool { !json && Terminal.colorEnabled(disabledByFlag: noColor) }

    func print(_ text: String) {
        Terminal.write(text + "\n", to: STDOUT_FILENO)
    }
}

/// `classy-monitor metrics`: one snapshot of the security metrics.
struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print one snapshot of the security metrics.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var signIn: SignInOptions
    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("Window ending now, in minutes (1..43200).", valueName: "minutes"))
    var window: Int = 60

    func validate() throws {
        guard (1...43_200).contains(window) else { throw ValidationError("--window must be 1..43200 minutes") }
    }

    func run() async throws {
        let window = self.window
        let response = try await Session.with(connection, email: signIn.email) { session in
            try await session.call("GetSecurityMetrics") { metadata, options in
                try await session.monitoring.getSecurityMetrics(
                    .with { $0.window = .init(seconds: Int64(window * 60)) }, metadata: metadata, options: options
                )
            }
        }
        let metrics = response.metrics
        if output.json {
            output.print(EventJSON.securityMetrics(metrics).serialized)
            return
        }
        let color = output.color
        let rows: [(String, String)] = [
            ("window", "\(metrics.window.seconds / 60) min"),
            ("login attempts", "\(metrics.loginAttempts)"),
            ("failed logins", "\(metrics.failedLogins)"),
            ("successful logins", "\(metrics.successfulLogins)"),
            ("unique IPs", "\(metrics.uniqueIps)"),
            ("active blocked IPs", "\(metrics.activeBlockedIps)"),
            ("locked accounts", "\(metrics.lockedAccounts)"),
            ("active sessions", "\(metrics.activeSessions)"),
        ]
        for (name, value) in rows { output.print(TextStyle.dim.apply(name.column(20), color: color) + value) }
        output.print(
            TextStyle.dim.apply("failures per minute".column(20), color: color)
                + Sparkline.bars(Array(metrics.failuresPerMinute.suffix(60)))
        )
        if !metrics.topFailingIps.isEmpty {
            output.print(
                TextStyle.dim.apply("top failing IPs".column(20), color: color)
                    + metrics.topFailingIps.map { "\($0.ipAddress) (\($0.count))" }.joined(separator: ", "))
        }
    }
}

/// `classy-monitor attempts`: recent login attempts, filtered.
struct Attempts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List recent login attempts, newest first.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var signIn: UserSignInOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only attempts for this email.") var email: String?
    @Option(help: "Only attempts from this IP address.") var ip: String?
    @Option(help: ArgumentHelp("Only this outcome: success or failure.", valueName: "outcome")) var outcome: Outcome?
    @Option(help: "At most this many attempts (1..10000).") var limit: Int = 50

    enum Outcome: String, ExpressibleByArgument, CaseIterable {
        case success, failure
    }

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1..10000") }
    }

    func run() async throws {
        let (email, ip, outcome, limit) = (self.email, self.ip, self.outcome, self.limit)
        let attempts = try await Session.with(connection, email: signIn.email) { session in
            var collected: [Classy_Monitoring_V1_LoginAttempt] = []
            var pageToken = ""
            repeat {
                let token = pageToken
                let page = try await session.call("ListLoginAttempts") { metadata, options in
                    try await session.monitoring.listLoginAttempts(
                        .with {
                            $0.pageSize = Int32(min(500, limit - collected.count))
                            $0.pageToken = token
                            if let email { $0.email = email }
                            if let ip { $0.ipAddress = ip }
                            if let outcome { $0.successFilter = outcome == .success }
                        },
                        metadata: metadata, options: options
                    )
                }
                collected += page.attempts
                pageToken = page.nextPageToken
            } while !pageToken.isEmpty && collected.count < limit
            return Array(collected.prefix(limit))
        }
        if output.json {
            for attempt in attempts { output.print(EventJSON.loginAttempt(attempt).serialized) }
            return
        }
        let color = output.color
        if attempts.isEmpty {
            output.print("no login attempts")
            return
        }
        output.print(
            TextStyle.bold.apply(
                "TIME".column(21) + "  " + "RESULT".column(6) + "  " + "EMAIL".column(32) + "  " + "IP".column(20)
                    + "  REASON",
                color: color))
        for attempt in attempts {
            let time = attempt.hasTime ? TimeFormat.readable(seconds: attempt.time.seconds) : "-"
            let result = TextStyle(attempt.success).apply((attempt.success ? "ok" : "FAIL").column(6), color: color)
            let reason = attempt.success ? "" : EventJSON.failureReason(attempt.failureReason)
            output.print(
                time.column(21) + "  " + result + "  " + attempt.email.column(32) + "  " + attempt.ipAddress.column(20)
                    + "  " + reason)
        }
    }
}

extension TextStyle {
    init(_ success: Bool) { self = success ? .green : .red }
}

/// `classy-monitor blocked`: the IP blocks in force.
struct Blocked: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List IP blocks in force (with --all, ended ones too).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var signIn: SignInOptions
    @OptionGroup var output: OutputOptions

    @Flag(help: "Include blocks that ended or were lifted.") var all = false

    func run() async throws {
        let all = self.all
        let blocks = try await Session.with(connection, email: signIn.email) { session in
            var collected: [Classy_Monitoring_V1_BlockedIP] = []
            var pageToken = ""
            repeat {
                let token = pageToken
                let page = try await session.call("ListBlockedIPs") { metadata, options in
                    try await session.monitoring.listBlockedIPs(
                        .with {
                            $0.pageSize = 500
                            $0.pageToken = token
                            $0.includeExpired = all
                        },
                        metadata: metadata, options: options
                    )
                }
                collected += page.blockedIps
                pageToken = page.nextPageToken
            } while !pageToken.isEmpty
            return collected
        }
        if output.json {
            for block in blocks { output.print(EventJSON.blockedIP(block).serialized) }
            return
        }
        if blocks.isEmpty {
            output.print("no blocked IPs")
            return
        }
        output.print(
            TextStyle.bold.apply(
                "IP".column(24) + "  " + "UNTIL".column(21) + "  " + "ATTEMPTS".column(8) + "  REASON",
                color: output.color))
        for block in blocks { output.print(Self.describe(block, color: output.color)) }
    }

    static func describe(_ block: Classy_Monitoring_V1_BlockedIP, color: Bool) -> String {
        let until =
            block.permanent || !block.hasBlockedUntil
            ? "permanent" : TimeFormat.readable(seconds: block.blockedUntil.seconds)
        return TextStyle.red.apply(block.ipAddress.column(24), color: color) + "  " + until.column(21) + "  "
            + String(block.attempts).column(8) + "  " + block.reason
    }
}

/// `classy-monitor block IP`: blocks an address or range.
struct Block: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Block an IP address or CIDR range.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var signIn: SignInOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The address or CIDR range, e.g. 203.0.113.7 or 2001:db8::/64.") var ip: String
    @Option(help: ArgumentHelp("How long: 90s, 30m, 12h, 7d, or permanent.", valueName: "duration"))
    var duration: String = "permanent"
    @Option(help: "Why (kept in the audit log).") var reason: String = ""

    func validate() throws {
        _ = try Self.parseDuration(duration)
    }

    /// `90s`, `30m`, `12h`, `7d`, a number of seconds, or `permanent` (nil).
    static func parseDuration(_ text: String) throws -> Int64? {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        if value == "permanent" || value == "forever" { return nil }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var number = Substring(value)
        var multiplier: Int64 = 1
        if let last = value.last, let unit = units[last] {
            number = value.dropLast()
            multiplier = unit
        }
        guard let amount = Int64(number), amount > 0, amount <= Int64.max / multiplier else {
            throw ValidationError("--duration '\(text)': use 90s, 30m, 12h, 7d, a number of seconds, or permanent")
        }
        return amount * multiplier
    }

    func run() async throws {
        let seconds = try Self.parseDuration(duration)
        let (ip, reason) = (self.ip, self.reason)
        let response = try await Session.with(connection, email: signIn.email) { session in
            try await session.call("BlockIP") { metadata, options in
                var metadata = metadata
                metadata.addString(UUID().uuidString, forKey: "idempotency-key")
                return try await session.monitoring.blockIP(
                    .with {
                        $0.ipAddress = ip
                        $0.reason = reason
                        if let seconds { $0.duration = .init(seconds: seconds) }
                    },
                    metadata: metadata, options: options
                )
            }
        }
        if output.json {
            output.print(EventJSON.blockedIP(response.blockedIp).serialized)
        } else {
            output.print("blocked " + Blocked.describe(response.blockedIp, color: output.color))
        }
    }
}

/// `classy-monitor unblock IP`: lifts a block.
struct Unblock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lift the block of an IP address or CIDR range.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var signIn: SignInOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The blocked address or range, as `blocked` shows it.") var ip: String
    @Option(help: "Why (kept in the audit log).") var reason: String = ""

    func run() async throws {
        let (ip, reason) = (self.ip, self.reason)
        _ = try await Session.with(connection, email: signIn.email) { session in
            try await session.call("UnblockIP") { metadata, options in
                var metadata = metadata
                metadata.addString(UUID().uuidString, forKey: "idempotency-key")
                return try await session.monitoring.unblockIP(
                    .with {
                        $0.ipAddress = ip
                        $0.reason = reason
                    },
                    metadata: metadata, options: options
                )
            }
        }
        if output.json {
            output.print(
                JSONValue.object([JSONField("ip_address", .string(ip)), JSONField("unblocked", true)]).serialized)
        } else {
            output.print("unblocked \(ip)")
        }
    }
}
