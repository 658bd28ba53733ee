/// The side effects of a state change, written by the backend in the same transaction as the change (outbox).
///
/// Audit rows, security events and notifications are never written on their own: they ride with the change
/// that caused them, so a stream can neither show an event for a change that did not commit nor miss one that
/// did. Use ``EventLog/commit(_:)`` for effects that have no state change of their own.
///
/// An operation that finds nothing to change (it returns `nil`, `false` or an empty list, such as unblocking
/// an IP that is not blocked) writes no effects either, so audit rows only ever describe real changes.
///
/// ```swift
/// var effects = StoreEffects()
/// effects.audit(AuditEntryRecord(action: "user.update", resourceType: "user", resourceID: id, time: now))
/// effects.event(NewSecurityEvent(kind: .auditLog, time: now, payload: bytes))
/// let mutation = try await store.updateUser(id: id, ifETag: etag, changes: changes, effects: effects, now: now)
/// ```
public struct StoreEffects: Sendable, Equatable, Hashable {
    /// Audit entries to insert.
    public var auditEntries: [AuditEntryRecord]
    /// Security events to append, in order.
    public var events: [NewSecurityEvent]
    /// Notifications to create, in order.
    public var notifications: [NewNotification]

    /// Creates effects.
    public init(
        auditEntries: [AuditEntryRecord] = [],
        events: [NewSecurityEvent] = [],
        notifications: [NewNotification] = []
    ) {
        self.auditEntries = auditEntries
        self.events = events
        self.notifications = notifications
    }

    /// No side effects.
    public static let none = StoreEffects()

    /// Whether there is nothing to write.
    public var isEmpty: Bool { auditEntries.isEmpty && events.isEmpty && notifications.isEmpty }

    /// Adds an audit entry.
    public mutating func audit(_ entry: AuditEntryRecord) { auditEntries.append(entry) }

    /// Adds a security event.
    public mutating func event(_ event: NewSecurityEvent) { events.append(event) }

    /// Adds a notification.
    public mutating func notify(_ notification: NewNotification) { notifications.append(notification) }

    /// Returns these effects followed by `other`'s.
    public func merging(_ other: StoreEffects) -> StoreEffects {
        StoreEffects(
            auditEntries: auditEntries + other.auditEntries,
            events: events + other.events,
            notifications: notifications + other.notifications
        )
    }
}

/// The rows written for a ``StoreEffects`` value, with the sequences and cursors assigned at commit.
public struct CommittedEffects: Sendable, Equatable {
    /// The events as persisted, in sequence order.
    public var events: [EventRecord]
    /// The notifications as persisted, in cursor order.
    public var notifications: [NotificationRecord]

    /// Creates committed effects.
    public init(events: [EventRecord], notifications: [NotificationRecord]) {
        self.events = events
        self.notifications = notifications
    }
}
