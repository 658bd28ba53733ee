import Foundation

/// Security counters over a time window, computed by indexed queries in the store.
public struct SecurityMetricsSnapshot: Sendable, Equatable {
    /// A failing IP address and its failure count in the window.
    public struct FailingIP: Sendable, Hashable {
        /// The IP address.
        public var ipAddress: String
        /// Its failed logins in the window.
        public var count: Int

        /// Creates an entry.
        public init(ipAddress: String, count: Int) {
            self.ipAddress = ipAddress
            self.count = count
        }
    }

    /// Login attempts in the window.
    public var loginAttempts: Int
    /// Failed login attempts in the window.
    public var failedLogins: Int
    /// Successful login attempts in the window.
    public var successfulLogins: Int
    /// Distinct client IPs that attempted a login in the window.
    public var uniqueIPs: Int
    /// IP blocks in force now.
    public var activeBlockedIPs: Int
    /// Emails locked now.
    public var lockedAccounts: Int
    /// Sessions neither revoked nor expired now.
    public var activeSessions: Int
    /// The IPs with the most failures in the window, most first (ties by address).
    public var topFailingIPs: [FailingIP]
    /// Failed logins per minute over the window, oldest first (`ceil(window / 60)` buckets).
    public var failuresPerMinute: [Int]

    /// Creates a snapshot.
    public init(
        loginAttempts: Int,
        failedLogins: Int,
        successfulLogins: Int,
        uniqueIPs: Int,
        activeBlockedIPs: Int,
        lockedAccounts: Int,
        activeSessions: Int,
        topFailingIPs: [FailingIP],
        failuresPerMinute: [Int]
    ) {
        self.loginAttempts = loginAttempts
        self.failedLogins = failedLogins
        self.successfulLogins = successfulLogins
        self.uniqueIPs = uniqueIPs
        self.activeBlockedIPs = activeBlockedIPs
        self.lockedAccounts = lockedAccounts
        self.activeSessions = activeSessions
        self.topFailingIPs = topFailingIPs
        self.failuresPerMinute = failuresPerMinute
    }
}
