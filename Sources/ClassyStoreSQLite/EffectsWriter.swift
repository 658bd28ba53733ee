import ClassyStore
import Foundation
import GRDB

/// Inserts ``StoreEffects`` inside the caller's write transaction.
enum EffectsWriter {
    /// What one transaction appended.
    struct Written {
        var committed: CommittedEffects

        /// The wake-up to publish once the transaction has committed.
        var wakeUp: StoreCommit { StoreCommit(committed) }
    }

    /// Inserts audit entries, events (assigning sequences) and notifications (assigning cursors).
    static func insert(_ effects: StoreEffects, in db: Database) throws -> Written {
        guard !effects.isEmpty else { return Written(committed: CommittedEffects(events: [], notifications: [])) }
        for entry in effects.auditEntries {
            try db.cachedStatement(
                sql: """
                    INSERT INTO audit_logs (id, action, actor_user_id, resource_type, resource_id, details, ip_address, time)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    entry.id, entry.action, entry.actorUserID, entry.resourceType, entry.resourceID,
                    try StringMapCoding.encode(entry.details), entry.ipAddress, entry.time.storageValue,
                ]
            )
        }
        var events: [EventRecord] = []
        for event in effects.events {
            try db.cachedStatement(
                sql: "INSERT INTO events (kind, time, payload) VALUES (?, ?, ?)"
            ).execute(
                arguments: [event.kind.rawValue, event.time.storageValue, event.payload]
            )
            events.append(
                EventRecord(
                    sequence: UInt64(db.lastInsertedRowID),
                    kind: event.kind,
                    time: event.time,
                    payload: event.payload
                )
            )
        }
        var notifications: [NotificationRecord] = []
        for notification in effects.notifications {
            try db.cachedStatement(
                sql: """
                    INSERT INTO notifications (id, user_id, kind, title, body, data, create_time, read)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 0)
                    """
            ).execute(
                arguments: [
                    notification.id, notification.userID, notification.kind, notification.title, notification.body,
                    try StringMapCoding.encode(notification.data), notification.createTime.storageValue,
                ]
            )
            notifications.append(
                NotificationRecord(
                    id: notification.id,
                    userID: notification.userID,
                    kind: notification.kind,
                    title: notification.title,
                    body: notification.body,
                    data: notification.data,
                    createTime: notification.createTime,
                    read: false,
                    cursor: db.lastInsertedRowID
                )
            )
        }
        return Written(committed: CommittedEffects(events: events, notifications: notifications))
    }
}
