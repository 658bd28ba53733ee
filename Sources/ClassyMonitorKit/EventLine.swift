import ClassyAPI

/// The human-readable one-line form of a security event (the default output of `watch`).
///
/// `2026-11-25 23:50:01Z #12 LOGIN FAILED  ada@example.com from 10.0.0.7: invalid credentials (device "laptop")`
public enum EventLine {
    /// The line as styled spans.
    public static func spans(_ event: SecurityEvent) -> [Span] {
        var spans: [Span] = [
            Span(event.hasTime ? TimeFormat.readable(seconds: event.time.seconds) : "-", .dim),
            Span(" "),
            Span(event.sequence > 0 ? "#\(event.sequence)" : "-", .dim),
            Span(" "),
        ]
        switch event.event {
        case .loginAttempt(let attempt):
            if attempt.success {
                spans.append(Span(label("login ok"), .green))
            } else {
                spans.append(Span(label("LOGIN FAILED"), .red))
            }
            spans.append(Span(" \(attempt.email.isEmpty ? "(no email)" : attempt.email)", .bold))
            spans.append(Span(" from \(attempt.ipAddress)"))
            if !attempt.success {
                spans.append(Span(": \(EventJSON.failureReason(attempt.failureReason).replacingUnderscores)"))
            }
            if !attempt.deviceName.isEmpty { spans.append(Span(" (device \"\(attempt.deviceName)\")", .dim)) }
        case .ipBlocked(let block):
            spans.append(Span(label("IP BLOCKED"), .boldRed))
            spans.append(Span(" \(block.ipAddress)", .bold))
            if block.permanent || !block.hasBlockedUntil {
                spans.append(Span(" permanently"))
            } else {
                spans.append(Span(" until \(TimeFormat.readable(seconds: block.blockedUntil.seconds))"))
            }
            if block.attempts > 0 { spans.append(Span(" after \(block.attempts) failed logins")) }
            if !block.reason.isEmpty { spans.append(Span(": \(block.reason)")) }
            if !block.createdBy.isEmpty { spans.append(Span(" (by \(block.createdBy))", .dim)) }
        case .ipUnblocked(let unblock):
            spans.append(Span(label("ip unblocked"), .green))
            spans.append(Span(" \(unblock.ipAddress)", .bold))
            if !unblock.reason.isEmpty { spans.append(Span(": \(unblock.reason)")) }
            if !unblock.unblockedBy.isEmpty { spans.append(Span(" (by \(unblock.unblockedBy))", .dim)) }
        case .accountLocked(let lock):
            spans.append(Span(label("ACCOUNT LOCKED"), .yellow))
            spans.append(Span(" \(lock.email)", .bold))
            if lock.hasLockedUntil {
                spans.append(Span(" until \(TimeFormat.readable(seconds: lock.lockedUntil.seconds))"))
            }
            spans.append(Span(" after \(lock.failedAttempts) failed logins"))
            if !lock.ipAddress.isEmpty { spans.append(Span(" (last from \(lock.ipAddress))")) }
        case .refreshTokenReused(let reuse):
            spans.append(Span(label("TOKEN REUSED"), .boldRed))
            spans.append(Span(" user \(reuse.userID) session \(reuse.sessionID) revoked"))
            if !reuse.ipAddress.isEmpty { spans.append(Span(" (from \(reuse.ipAddress))")) }
        case .auditLog(let entry):
            spans.append(Span(label("audit"), .cyan))
            spans.append(Span(" \(entry.action)", .bold))
            spans.append(Span(" \(entry.resourceType)/\(entry.resourceID)"))
            spans.append(Span(" by \(entry.actorUserID.isEmpty ? "system" : entry.actorUserID)"))
            if !entry.ipAddress.isEmpty { spans.append(Span(" from \(entry.ipAddress)")) }
            let details = entry.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            if !details.isEmpty { spans.append(Span(" " + details.joined(separator: " "), .dim)) }
        case .securityMetrics(let metrics):
            spans.append(Span(label("metrics"), .magenta))
            spans.append(
                Span(
                    " \(metrics.loginAttempts) logins, \(metrics.failedLogins) failed, \(metrics.uniqueIps) IPs,"
                        + " \(metrics.activeBlockedIps) blocked, \(metrics.lockedAccounts) locked,"
                        + " \(metrics.activeSessions) sessions in the last \(metrics.window.seconds / 60) min"
                )
            )
        case .heartbeat:
            spans.append(Span(label("heartbeat"), .dim))
        case nil:
            spans.append(Span(label("unknown event"), .dim))
        }
        return spans
    }

    /// The line, coloured if `color`.
    public static func render(_ event: SecurityEvent, color: Bool) -> String {
        spans(event).rendered(color: color)
    }

    /// Labels padded to one width so the subjects line up.
    static func label(_ text: String) -> String { text.column(14) }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
