/// The type of a persisted security event; mirrors the persisted cases of `SecurityEvent.event`.
public enum SecurityEventKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A login attempt, successful or not.
    case loginAttempt = "login_attempt"
    /// An IP address or CIDR was blocked.
    case ipBlocked = "ip_blocked"
    /// An IP block was lifted.
    case ipUnblocked = "ip_unblocked"
    /// An account (email) was locked after repeated failures.
    case accountLocked = "account_locked"
    /// A rotated refresh token was presented again; its session was revoked.
    case refreshTokenReused = "refresh_token_reused"
    /// An audit log entry was written.
    case auditLog = "audit_log"
}
