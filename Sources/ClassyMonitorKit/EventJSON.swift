import ClassyAPI
import Foundation
import SwiftProtobuf

/// The monitor's JSON schema (version 1), documented in the README: one object per line, keys in a fixed order,
/// snake_case names, times as RFC 3339 UTC strings with milliseconds (null when absent), 64-bit counts as numbers,
/// strings always present (empty when unknown).
public enum EventJSON {
    /// `{"sequence":N,"time":"…","type":"login_attempt","data":{…}}`.
    public static func event(_ event: SecurityEvent) -> JSONValue {
        .object([
            JSONField("sequence", .uint(event.sequence)),
            JSONField("time", time(event.hasTime ? event.time : nil)),
            JSONField("type", .string(EventKind(event).name)),
            JSONField("data", data(of: event)),
        ])
    }

    /// The `data` object of an event.
    public static func data(of event: SecurityEvent) -> JSONValue {
        switch event.event {
        case .loginAttempt(let attempt): loginAttempt(attempt)
        case .ipBlocked(let block): blockedIP(block)
        case .ipUnblocked(let unblock):
            .object([
                JSONField("ip_address", .string(unblock.ipAddress)),
                JSONField("reason", .string(unblock.reason)),
                JSONField("unblocked_by", .string(unblock.unblockedBy)),
            ])
        case .accountLocked(let lock):
            .object([
                JSONField("email", .string(lock.email)),
                JSONField("user_id", .string(lock.userID)),
                JSONField("failed_attempts", .int(Int64(lock.failedAttempts))),
                JSONField("locked_until", time(lock.hasLockedUntil ? lock.lockedUntil : nil)),
                JSONField("ip_address", .string(lock.ipAddress)),
            ])
        case .refreshTokenReused(let reuse):
            .object([
                JSONField("user_id", .string(reuse.userID)),
                JSONField("session_id", .string(reuse.sessionID)),
                JSONField("ip_address", .string(reuse.ipAddress)),
            ])
        case .auditLog(let entry):
            .object([
                JSONField("id", .string(entry.id)),
                JSONField("action", .string(entry.action)),
                JSONField("actor_user_id", .string(entry.actorUserID)),
                JSONField("resource_type", .string(entry.resourceType)),
                JSONField("resource_id", .string(entry.resourceID)),
                JSONField(
                    "details",
                    .object(entry.details.sorted { $0.key < $1.key }.map { JSONField($0.key, .string($0.value)) })),
                JSONField("ip_address", .string(entry.ipAddress)),
                JSONField("time", time(entry.hasTime ? entry.time : nil)),
            ])
        case .securityMetrics(let metrics): securityMetrics(metrics)
        case .heartbeat, nil: .object([])
        }
    }

    /// A login attempt (also each line of `attempts --json`).
    public static func loginAttempt(_ attempt: Classy_Monitoring_V1_LoginAttempt) -> JSONValue {
        .object([
            JSONField("id", .string(attempt.id)),
            JSONField("email", .string(attempt.email)),
            JSONField("ip_address", .string(attempt.ipAddress)),
            JSONField("success", .bool(attempt.success)),
            JSONField("failure_reason", attempt.success ? .null : .string(failureReason(attempt.failureReason))),
            JSONField("user_id", .string(attempt.userID)),
            JSONField("session_id", .string(attempt.sessionID)),
            JSONField("user_agent", .string(attempt.userAgent)),
            JSONField("device_name", .string(attempt.deviceName)),
            JSONField("time", time(attempt.hasTime ? attempt.time : nil)),
        ])
    }

    /// An IP block (also each line of `blocked --json` and the output of `block --json`).
    public static func blockedIP(_ block: Classy_Monitoring_V1_BlockedIP) -> JSONValue {
        .object([
            JSONField("ip_address", .string(block.ipAddress)),
            JSONField("reason", .string(block.reason)),
            JSONField("attempts", .int(Int64(block.attempts))),
            JSONField("blocked_until", time(block.hasBlockedUntil ? block.blockedUntil : nil)),
            JSONField("permanent", .bool(block.permanent)),
            JSONField("create_time", time(block.hasCreateTime ? block.createTime : nil)),
            JSONField("created_by", .string(block.createdBy)),
        ])
    }

    /// A metrics snapshot (also the output of `metrics --json`).
    public static func securityMetrics(_ metrics: Classy_Monitoring_V1_SecurityMetrics) -> JSONValue {
        .object([
            JSONField("window_seconds", .int(metrics.hasWindow ? metrics.window.seconds : 0)),
            JSONField("login_attempts", .int(metrics.loginAttempts)),
            JSONField("failed_logins", .int(metrics.failedLogins)),
            JSONField("successful_logins", .int(metrics.successfulLogins)),
            JSONField("unique_ips", .int(metrics.uniqueIps)),
            JSONField("active_blocked_ips", .int(metrics.activeBlockedIps)),
            JSONField("locked_accounts", .int(metrics.lockedAccounts)),
            JSONField("active_sessions", .int(metrics.activeSessions)),
            JSONField(
                "top_failing_ips",
                .array(
                    metrics.topFailingIps.map {
                        .object([
                            JSONField("ip_address", .string($0.ipAddress)), JSONField("count", .int(Int64($0.count))),
                        ])
                    })
            ),
            JSONField("failures_per_minute", .array(metrics.failuresPerMinute.map { .int($0) })),
        ])
    }

    /// `invalid_credentials`, `account_locked`, `account_disabled`, `ip_blocked`, `rate_limited`, `unspecified`,
    /// or `unknown_N`.
    public static func failureReason(_ reason: Classy_Monitoring_V1_FailureReason) -> String {
        switch reason {
        case .unspecified: "unspecified"
        case .invalidCredentials: "invalid_credentials"
        case .accountLocked: "account_locked"
        case .accountDisabled: "account_disabled"
        case .ipBlocked: "ip_blocked"
        case .rateLimited: "rate_limited"
        case .UNRECOGNIZED(let value): "unknown_\(value)"
        }
    }

    static func time(_ timestamp: Google_Protobuf_Timestamp?) -> JSONValue {
        timestamp.map { .string($0.rfc3339) } ?? .null
    }
}

/// The kind of a security event, with its schema name and `--types` spelling.
public enum EventKind: String, Sendable, CaseIterable, Hashable {
    case loginAttempt = "login_attempt"
    case ipBlocked = "ip_blocked"
    case ipUnblocked = "ip_unblocked"
    case accountLocked = "account_locked"
    case refreshTokenReused = "refresh_token_reused"
    case auditLog = "audit_log"
    case securityMetrics = "security_metrics"
    case heartbeat = "heartbeat"
    case unknown = "unknown"

    /// The kind of `event`.
    public init(_ event: SecurityEvent) {
        switch event.event {
        case .loginAttempt: self = .loginAttempt
        case .ipBlocked: self = .ipBlocked
        case .ipUnblocked: self = .ipUnblocked
        case .accountLocked: self = .accountLocked
        case .refreshTokenReused: self = .refreshTokenReused
        case .auditLog: self = .auditLog
        case .securityMetrics: self = .securityMetrics
        case .heartbeat: self = .heartbeat
        case nil: self = .unknown
        }
    }

    /// The schema name (`login_attempt`, …).
    public var name: String { rawValue }

    /// The API enum value used in `StreamSecurityEventsRequest.types`.
    public var apiType: Classy_Monitoring_V1_SecurityEventType? {
        switch self {
        case .loginAttempt: .loginAttempt
        case .ipBlocked: .ipBlocked
        case .ipUnblocked: .ipUnblocked
        case .accountLocked: .accountLocked
        case .refreshTokenReused: .refreshTokenReused
        case .auditLog: .auditLog
        case .securityMetrics: .securityMetrics
        case .heartbeat, .unknown: nil
        }
    }

    /// The kinds `--types` accepts.
    public static let filterable: [EventKind] = [
        .loginAttempt, .ipBlocked, .ipUnblocked, .accountLocked, .refreshTokenReused, .auditLog, .securityMetrics,
    ]

    /// Parses a comma-separated `--types` list (`login_attempt,ip_blocked`; `-` and `_` interchangeable).
    public static func parseList(_ text: String) throws(MonitorFailure) -> [EventKind] {
        var kinds: [EventKind] = []
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "_")
            guard let kind = filterable.first(where: { $0.rawValue == name }) else {
                throw MonitorFailure.usage(
                    "--types: unknown event type '\(part)' (use \(filterable.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        guard !kinds.isEmpty else { throw MonitorFailure.usage("--types: name at least one event type") }
        return kinds
    }
}
