import Foundation

/// The lock state of an email (existing account or not) after repeated failed logins.
public struct AccountLockRecord: Sendable, Equatable, Hashable {
    /// The normalised email.
    public var email: String
    /// Until when the email is locked; `nil` after an unlock.
    public var lockedUntil: Date?
    /// How many times the email was locked so far (drives escalation).
    public var lockCount: Int
    /// When the email was last locked.
    public var lastLockTime: Date
    /// When an admin last unlocked it.
    public var unlockTime: Date?

    /// Creates an account lock record.
    public init(email: String, lockedUntil: Date?, lockCount: Int, lastLockTime: Date, unlockTime: Date? = nil) {
        self.email = email
        self.lockedUntil = lockedUntil
        self.lockCount = lockCount
        self.lastLockTime = lastLockTime
        self.unlockTime = unlockTime
    }

    /// Whether the email is locked at `now`.
    public func isLocked(at now: Date) -> Bool {
        guard let lockedUntil else { return false }
        return lockedUntil > now
    }
}
