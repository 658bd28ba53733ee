import Foundation

/// The brute-force defence of DESIGN.md "Security policy": thresholds, windows, escalation, permanence and the
/// allow-list, as pure decisions over counts that the store keeps.
///
/// Per email (existing or not): `email.threshold` counted failures within `email.window` lock the email for
/// `email.baseLock`, doubling with each further lock (remembered for `email.escalationMemory`) up to
/// `email.maxLock`. Per IP key (IPv4 address, IPv6 /64): `ip.threshold` counted failures within `ip.window`
/// block it for `ip.baseBlock`, doubling with each further block up to `ip.maxBlock`; the `ip.permanentAfter`-th
/// block within `ip.permanenceWindow` is permanent. Addresses inside `allowList` are never counted nor blocked.
///
/// ```swift
/// let policy = BruteForcePolicy()
/// policy.admission(emailFailures: 6, ipFailures: 3)    // .overEmailLimit: refuse before the password check
/// policy.lockDuration(forLockNumber: 3)                // 240 s
/// policy.block(previousBlocksInWindow: 4)              // .permanent
/// ```
public struct BruteForcePolicy: Sendable, Hashable {
    /// Limits on failed logins for one email.
    public struct EmailLimits: Sendable, Hashable {
        /// Counted failures within `window` that lock the email (the last of them still answers
        /// INVALID_CREDENTIALS).
        public var threshold: Int
        /// The sliding window failures are counted in.
        public var window: TimeInterval
        /// The first lock's length.
        public var baseLock: TimeInterval
        /// The longest lock.
        public var maxLock: TimeInterval
        /// A lock placed this long after the previous one starts the escalation again at `baseLock`.
        public var escalationMemory: TimeInterval

        /// Creates email limits (DESIGN.md defaults: 5 failures in 15 min, 1 min doubling up to 1 h).
        public init(
            threshold: Int = 5,
            window: TimeInterval = 15 * 60,
            baseLock: TimeInterval = 60,
            maxLock: TimeInterval = 3600,
            escalationMemory: TimeInterval = 24 * 3600
        ) {
            self.threshold = threshold
            self.window = window
            self.baseLock = baseLock
            self.maxLock = maxLock
            self.escalationMemory = escalationMemory
        }
    }

    /// Limits on failed logins from one IP key.
    public struct IPLimits: Sendable, Hashable {
        /// Counted failures within `window` that block the IP key (the last of them still answers
        /// INVALID_CREDENTIALS).
        public var threshold: Int
        /// The sliding window failures are counted in.
        public var window: TimeInterval
        /// The first block's length.
        public var baseBlock: TimeInterval
        /// The longest temporary block.
        public var maxBlock: TimeInterval
        /// The block number within `permanenceWindow` that is permanent (0: never permanent).
        public var permanentAfter: Int
        /// How far back blocks count toward escalation and permanence.
        public var permanenceWindow: TimeInterval

        /// Creates IP limits (DESIGN.md defaults: 20 failures in 15 min, 15 min doubling up to 24 h, the 5th
        /// block within 24 h permanent).
        public init(
            threshold: Int = 20,
            window: TimeInterval = 15 * 60,
            baseBlock: TimeInterval = 15 * 60,
            maxBlock: TimeInterval = 24 * 3600,
            permanentAfter: Int = 5,
            permanenceWindow: TimeInterval = 24 * 3600
        ) {
            self.threshold = threshold
            self.window = window
            self.baseBlock = baseBlock
            self.maxBlock = maxBlock
            self.permanentAfter = permanentAfter
            self.permanenceWindow = permanenceWindow
        }
    }

    /// What to do with an attempt whose failure was just pre-counted.
    public enum Admission: Sendable, Hashable {
        /// Check the password.
        case admit
        /// More failures than the email's threshold are in flight: refuse as ACCOUNT_LOCKED without checking.
        case overEmailLimit
        /// More failures than the IP's threshold are in flight: refuse as IP_BLOCKED without checking.
        case overIPLimit
    }

    /// The length of an automatic IP block.
    public enum BlockLength: Sendable, Hashable {
        /// A block that ends by itself after this long.
        case temporary(TimeInterval)
        /// A block that only an admin lifts.
        case permanent
    }

    /// Per-email limits.
    public var email: EmailLimits
    /// Per-IP limits.
    public var ip: IPLimits
    /// Ranges never counted nor blocked (automatically or by an admin).
    public var allowList: [IPNetwork]

    /// Creates a policy; every part defaults to DESIGN.md.
    public init(email: EmailLimits = EmailLimits(), ip: IPLimits = IPLimits(), allowList: [IPNetwork] = []) {
        self.email = email
        self.ip = ip
        self.allowList = allowList
    }

    /// Decides whether an attempt may reach the password check, from the failure counts within the windows
    /// that include its own pre-counted failure (`nil`: that key is not counted).
    ///
    /// Counts above a threshold mean that concurrent attempts already used up the allowance (the attempt that
    /// reached the threshold is being checked and will lock or block), so this one is refused unchecked.
    public func admission(emailFailures: Int?, ipFailures: Int?) -> Admission {
        if let ipFailures, ipFailures > ip.threshold { return .overIPLimit }
        if let emailFailures, emailFailures > email.threshold { return .overEmailLimit }
        return .admit
    }

    /// Whether a failed password check with these counts (its own failure included) locks the email.
    public func locksEmail(failures: Int) -> Bool {
        failures >= email.threshold
    }

    /// Whether a failed password check with these counts (its own failure included) blocks the IP key.
    public func blocksIP(failures: Int) -> Bool {
        failures >= ip.threshold
    }

    /// The lock number the next lock gets, from the previous lock (if any) and when it was placed.
    public func nextLockNumber(previousLockCount: Int?, previousLockTime: Date?, now: Date) -> Int {
        guard let previousLockCount, let previousLockTime else { return 1 }
        if previousLockTime < escalationResetBefore(now: now) { return 1 }
        return previousLockCount + 1
    }

    /// Locks placed before this time no longer escalate the next one.
    public func escalationResetBefore(now: Date) -> Date {
        now.addingTimeInterval(-email.escalationMemory)
    }

    /// The length of the `lockNumber`-th lock (1-based): `baseLock` doubling, at most `maxLock`.
    public func lockDuration(forLockNumber lockNumber: Int) -> TimeInterval {
        Self.doubling(email.baseLock, times: lockNumber - 1, max: email.maxLock)
    }

    /// The length of the next automatic block, given how many blocks of the key were made within
    /// `ip.permanenceWindow`.
    public func block(previousBlocksInWindow previous: Int) -> BlockLength {
        let number = max(0, previous) + 1
        if ip.permanentAfter > 0 && number >= ip.permanentAfter { return .permanent }
        return .temporary(Self.doubling(ip.baseBlock, times: number - 1, max: ip.maxBlock))
    }

    /// Whether `address` lies in an allow-listed range.
    public func isAllowListed(_ address: IPAddress) -> Bool {
        allowList.contains { $0.contains(address) }
    }

    /// Whether blocking `network` would block any allow-listed address (either range contains the other).
    public func overlapsAllowList(_ network: IPNetwork) -> Bool {
        allowList.contains { allowed in
            allowed.contains(network.address) || network.contains(allowed.address)
        }
    }

    /// The key failures from `address` are counted and blocked under: IPv4 addresses as they are, IPv6 by /64.
    public static func ipKey(for address: IPAddress) -> String {
        IPNetwork.blockKey(for: address).description
    }

    private static func doubling(_ base: TimeInterval, times: Int, max limit: TimeInterval) -> TimeInterval {
        var value = base
        var remaining = Swift.max(0, times)
        while remaining > 0 && value < limit {
            value *= 2
            remaining -= 1
        }
        return Swift.min(value, limit)
    }
}
