import ClassyCore
import Foundation

/// A stored audit log entry.
public struct AuditEntryRecord: Sendable, Equatable, Hashable {
    /// The entry's UUID.
    public var id: String
    /// What was done (for example `user.update`, `ip.block`).
    public var action: String
    /// Who did it; `nil` for the system.
    public var actorUserID: String?
    /// The kind of resource acted on (for example `user`, `ip`).
    public var resourceType: String
    /// The id of the resource acted on.
    public var resourceID: String
    /// Free-form details.
    public var details: [String: String]
    /// The actor's IP address.
    public var ipAddress: String
    /// When it happened.
    public var time: Date

    /// Creates an audit entry.
    public init(
        id: String = UUID.randomLowercasedString(),
        action: String,
        actorUserID: String? = nil,
        resourceType: String,
        resourceID: String,
        details: [String: String] = [:],
        ipAddress: String = "",
        time: Date
    ) {
        self.id = id
        self.action = action
        self.actorUserID = actorUserID
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.details = details
        self.ipAddress = ipAddress
        self.time = time
    }
}

/// The filters and page of an audit log list (newest first).
public struct AuditQuery: Sendable, Hashable {
    /// Only entries by this actor.
    public var actorUserID: String?
    /// Only entries with this action.
    public var action: String?
    /// Only entries about this resource type.
    public var resourceType: String?
    /// Only entries at or after this time.
    public var startTime: Date?
    /// Only entries before this time.
    public var endTime: Date?
    /// Continue after this position.
    public var after: TimeCursor?
    /// The maximum number of entries to return.
    public var limit: Int

    /// Creates an audit query.
    public init(
        actorUserID: String? = nil,
        action: String? = nil,
        resourceType: String? = nil,
        startTime: Date? = nil,
        endTime: Date? = nil,
        after: TimeCursor? = nil,
        limit: Int = 50
    ) {
        self.actorUserID = actorUserID
        self.action = action
        self.resourceType = resourceType
        self.startTime = startTime
        self.endTime = endTime
        self.after = after
        self.limit = limit
    }
}
