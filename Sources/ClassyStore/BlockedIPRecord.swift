import ClassyCore
import Foundation

/// A stored IP block (one row per block; unblocking keeps the row as history).
public struct BlockedIPRecord: Sendable, Equatable, Hashable {
    /// The block's UUID.
    public var id: String
    /// The blocked address or CIDR, as given.
    public var ipAddress: String
    /// Why it was blocked.
    public var reason: String
    /// The number of failed attempts that led to the block (0 for manual blocks).
    public var attempts: Int
    /// When the block ends; `nil` when permanent.
    public var blockedUntil: Date?
    /// Whether the block never expires.
    public var permanent: Bool
    /// When the block was created.
    public var createTime: Date
    /// The user id of the admin who blocked it, `nil` for automatic blocks.
    public var createdBy: String?
    /// When the block was lifted, if it was.
    public var unblockedTime: Date?
    /// Why the block was lifted, if it was.
    public var unblockReason: String?

    /// Creates an IP block record.
    public init(
        id: String = UUID.randomLowercasedString(),
        ipAddress: String,
        reason: String,
        attempts: Int = 0,
        blockedUntil: Date?,
        permanent: Bool,
        createTime: Date,
        createdBy: String? = nil,
        unblockedTime: Date? = nil,
        unblockReason: String? = nil
    ) {
        self.id = id
        self.ipAddress = ipAddress
        self.reason = reason
        self.attempts = attempts
        self.blockedUntil = blockedUntil
        self.permanent = permanent
        self.createTime = createTime
        self.createdBy = createdBy
        self.unblockedTime = unblockedTime
        self.unblockReason = unblockReason
    }

    /// Whether the block is in force at `now`.
    public func isActive(at now: Date) -> Bool {
        guard unblockedTime == nil else { return false }
        if permanent { return true }
        guard let blockedUntil else { return false }
        return blockedUntil > now
    }
}

/// The filters and page of a blocked-IP list (newest first).
public struct BlockedIPQuery: Sendable, Hashable {
    /// Whether expired and lifted blocks are included.
    public var includeExpired: Bool
    /// The time that decides which blocks are active.
    public var now: Date
    /// Continue after this position.
    public var after: TimeCursor?
    /// The maximum number of blocks to return.
    public var limit: Int

    /// Creates a blocked-IP query.
    public init(includeExpired: Bool = false, now: Date, after: TimeCursor? = nil, limit: Int = 50) {
        self.includeExpired = includeExpired
        self.now = now
        self.after = after
        self.limit = limit
    }
}
