import ClassyAPI
import Foundation

/// Draws the dashboard: a pure function of the state and the terminal size, so it is tested with golden strings.
///
/// Layout, top to bottom: title and connection status; metrics of the window; failed logins per minute as a
/// sparkline; the latest login attempts (as many as fit); active IP blocks (up to a third of the free rows); a
/// footer with the last sequence and the keys. Every line is exactly `columns` wide.
public enum DashboardRenderer {
    /// The smallest size drawn; below it the screen says so.
    public static let minimumColumns = 40
    public static let minimumRows = 12

    /// The screen as lines (each exactly `columns` wide when `color` is false).
    public static func lines(_ state: DashboardState, columns: Int, rows: Int, color: Bool) -> [String] {
        spanLines(state, columns: columns, rows: rows).map { $0.fitted(to: columns, pad: true).rendered(color: color) }
    }

    /// The full frame to write: cursor home, every line, erase below.
    public static func frame(_ state: DashboardState, columns: Int, rows: Int, color: Bool) -> String {
        "\u{1B}[H" + lines(state, columns: columns, rows: rows, color: color).joined(separator: "\r\n") + "\u{1B}[J"
    }

    static func spanLines(_ state: DashboardState, columns: Int, rows: Int) -> [[Span]] {
        guard columns >= minimumColumns, rows >= minimumRows else {
            return [[Span("Terminal too small (\(columns)x\(rows)); need \(minimumColumns)x\(minimumRows).")]]
                + Array(repeating: [], count: max(0, rows - 1))
        }
        var lines: [[Span]] = []
        lines.append(title(state, columns: columns))
        lines.append([Span(String(repeating: "─", count: columns), .dim)])
        lines.append(metricsLine(state.metrics))
        let (sparkTitle, spark) = sparkline(state.metrics, columns: columns)
        lines.append(sparkTitle)
        lines.append(spark)

        // Fixed: 5 above, 2 for the attempts heading and header, 2 for the blocks heading and header, 1 footer.
        let free = rows - lines.count - 5
        let blockRows = min(max(state.blockedIPs.count, 1), max(1, free / 3))
        let attemptRows = free - blockRows

        lines.append(heading("Latest login attempts", columns: columns))
        let attemptColumns = AttemptColumns(columns: columns)
        lines.append([Span(attemptColumns.header, .bold)])
        let shown = state.attempts.prefix(attemptRows)
        if shown.isEmpty {
            lines.append([Span("  (none yet)", .dim)])
        }
        for attempt in shown { lines.append(attemptColumns.row(attempt)) }
        while lines.count < 5 + 2 + attemptRows { lines.append([]) }

        lines.append(heading("Blocked IPs (\(state.blockedIPs.count))", columns: columns))
        let blockColumns = BlockColumns(columns: columns)
        lines.append([Span(blockColumns.header, .bold)])
        if state.blockedIPs.isEmpty {
            lines.append([Span("  (none)", .dim)])
        } else {
            let hidden = state.blockedIPs.count - blockRows
            let visible = hidden > 0 ? blockRows - 1 : blockRows
            for block in state.blockedIPs.prefix(visible) { lines.append(blockColumns.row(block)) }
            if hidden > 0 { lines.append([Span("  … and \(hidden + 1) more", .dim)]) }
        }
        while lines.count < rows - 1 { lines.append([]) }
        lines.append(footer(state))
        return lines
    }

    static func title(_ state: DashboardState, columns: Int) -> [Span] {
        let left: [Span] = [Span(" Classy Book security monitor", .bold), Span("  \(state.server)")]
        let (text, style) = status(state.connection)
        let right: [Span] = [
            Span("● ", style), Span(text, style),
            Span("  \(TimeFormat.clock(seconds: Int64(state.now.timeIntervalSince1970.rounded(.down))))Z "),
        ]
        let gap = columns - left.width - right.width
        if gap >= 1 { return left + [Span(String(repeating: " ", count: gap))] + right }
        return left + [Span(" ")] + right
    }

    static func status(_ status: FollowerStatus) -> (String, TextStyle) {
        switch status {
        case .connected: ("connected", .green)
        case .connecting(let attempt): (attempt == 0 ? "connecting" : "connecting (attempt \(attempt + 1))", .yellow)
        case .renewingToken: ("renewing token", .yellow)
        case .reconnecting(let attempt, let delay, _):
            ("reconnecting in \(String(format: "%.1f", delay.seconds))s (attempt \(attempt))", .red)
        }
    }

    static func metricsLine(_ metrics: Classy_Monitoring_V1_SecurityMetrics?) -> [Span] {
        guard let metrics else { return [Span(" Metrics: waiting for the first snapshot…", .dim)] }
        let minutes = metrics.window.seconds / 60
        return [
            Span(" Last \(minutes >= 60 && minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes)m"): "),
            Span("\(metrics.loginAttempts)", .bold), Span(" logins  "),
            Span("\(metrics.failedLogins)", metrics.failedLogins > 0 ? .red : .bold), Span(" failed  "),
            Span("\(metrics.successfulLogins)", .green), Span(" ok  "),
            Span("\(metrics.uniqueIps)", .bold), Span(" IPs  "),
            Span("\(metrics.activeBlockedIps)", metrics.activeBlockedIps > 0 ? .red : .bold), Span(" blocked  "),
            Span("\(metrics.lockedAccounts)", metrics.lockedAccounts > 0 ? .yellow : .bold), Span(" locked  "),
            Span("\(metrics.activeSessions)", .bold), Span(" sessions"),
        ]
    }

    /// The title and the sparkline of failed logins per minute: the most recent minutes that fit, newest right.
    static func sparkline(_ metrics: Classy_Monitoring_V1_SecurityMetrics?, columns: Int) -> ([Span], [Span]) {
        let width = columns - 2
        let values = Array((metrics?.failuresPerMinute ?? []).suffix(width))
        let peak = values.max() ?? 0
        let title: [Span] = [
            Span(" Failed logins per minute", .bold),
            Span(values.isEmpty ? "" : " (last \(values.count) min, peak \(peak))", .dim),
        ]
        let bars = Sparkline.bars(values)
        let padding = String(repeating: " ", count: width - bars.count)
        return (title, [Span(" " + padding), Span(bars, peak > 0 ? .red : .dim)])
    }

    static func heading(_ text: String, columns: Int) -> [Span] {
        let prefix = "── \(text) "
        return [Span(prefix + String(repeating: "─", count: max(0, columns - prefix.count)), .cyan)]
    }

    static func footer(_ state: DashboardState) -> [Span] {
        [
            Span(" seq \(state.lastSequence.map(String.init) ?? "-")", .dim),
            Span(" · \(state.eventsReceived) events", .dim),
            Span(" · q quit", .dim),
        ]
    }

    /// Column widths of the attempts table for a terminal width.
    struct AttemptColumns {
        var email: Int
        var ip: Int
        var reasonWidth: Int

        init(columns: Int) {
            // " HH:MM:SS  RESULT  EMAIL  IP  REASON": 1 + 8 + 2 + 6 + 2 = 19 fixed, then 2 + 2 between the rest.
            let flexible = columns - 19 - 4
            ip = min(39, max(7, flexible / 4))
            reasonWidth = min(19, max(0, flexible / 3))
            email = max(5, flexible - ip - reasonWidth)
        }

        var header: String {
            " " + "TIME".column(8) + "  " + "RESULT".column(6) + "  " + "EMAIL".column(email) + "  " + "IP".column(ip)
                + "  " + "REASON".column(reasonWidth)
        }

        func row(_ attempt: Classy_Monitoring_V1_LoginAttempt) -> [Span] {
            let time = attempt.hasTime ? TimeFormat.clock(seconds: attempt.time.seconds) : "-"
            let reason = attempt.success ? "" : EventJSON.failureReason(attempt.failureReason).replacingUnderscores
            return [
                Span(" " + time.column(8) + "  ", .dim),
                Span((attempt.success ? "ok" : "FAIL").column(6), attempt.success ? .green : .red),
                Span("  " + attempt.email.column(email) + "  " + attempt.ipAddress.column(ip) + "  "),
                Span(reason.column(reasonWidth), .dim),
            ]
        }
    }

    /// Column widths of the blocks table for a terminal width.
    struct BlockColumns {
        var ip: Int
        var reason: Int

        init(columns: Int) {
            // " IP  UNTIL(20)  ATTEMPTS(8)  REASON": 1 + 2 + 20 + 2 + 8 + 2 = 35 fixed.
            let flexible = columns - 35
            ip = min(43, max(7, flexible / 2))
            reason = max(0, flexible - ip)
        }

        var header: String {
            " " + "IP".column(ip) + "  " + "UNTIL".column(20) + "  " + "ATTEMPTS".column(8) + "  "
                + "REASON".column(reason)
        }

        func row(_ block: Classy_Monitoring_V1_BlockedIP) -> [Span] {
            let until =
                block.permanent || !block.hasBlockedUntil
                ? "permanent" : TimeFormat.readable(seconds: block.blockedUntil.seconds)
            return [
                Span(" "), Span(block.ipAddress.column(ip), .red),
                Span("  " + until.column(20) + "  " + String(block.attempts).column(8) + "  "),
                Span(block.reason.column(reason), .dim),
            ]
        }
    }
}

/// Unicode block sparklines.
public enum Sparkline {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One bar per value, scaled to the largest: zero is the lowest bar, the peak the full block.
    public static func bars(_ values: [Int64]) -> String {
        let peak = values.max() ?? 0
        guard peak > 0 else { return String(repeating: levels[0], count: values.count) }
        return String(
            values.map { value -> Character in
                guard value > 0 else { return levels[0] }
                let level = Int((Double(value) / Double(peak) * 7).rounded(.up))
                return levels[min(7, max(1, level))]
            }
        )
    }
}
