import ClassyStore
import Logging
import PostgresNIO

/// Inserts ``StoreEffects`` inside the caller's transaction.
enum EffectsWriter {
    /// What one transaction appended.
    struct Written {
        var committed: CommittedEffects

        /// The wake-up announced (by NOTIFY) once the transaction commits.
        var wakeUp: StoreCommit { StoreCommit(committed) }
    }

    /// Inserts audit entries, events and notifications; sequences and cursors come from `store_counters`, whose
    /// row locks (held to commit) make them visible in order.
    static func insert(
        _ effects: StoreEffects, on connection: PostgresConnection, logger: Logger
    ) async throws
        -> Written
    {
        guard !effects.isEmpty else { return Written(committed: CommittedEffects(events: [], notifications: [])) }
        for entry in effects.auditEntries {
            let details = try StringMapCoding.encode(entry.details)
            try await connection.exec(
                """
                INSERT INTO audit_logs (id, action, actor_user_id, resource_type, resource_id, details, ip_address, time)
                VALUES (\(entry.id), \(entry.action), \(entry.actorUserID), \(entry.resourceType), \(entry.resourceID),
                    \(details), \(entry.ipAddress), \(entry.time.storageValue))
                """
            )
        }
        var events: [EventRecord] = []
        if !effects.events.isEmpty {
            var sequence = try await reserve("event", count: effects.events.count, on: connection, logger: logger)
            for event in effects.events {
                try await connection.exec(
                    """
                    INSERT INTO events (sequence, kind, time, payload)
                    VALUES (\(sequence), \(event.kind.rawValue), \(event.time.storageValue), \(event.payload))
                    """
                )
                events.append(
                    EventRecord(sequence: UInt64(sequence), kind: event.kind, time: event.time, payload: event.payload)
                )
                sequence += 1
            }
        }
        var notifications: [NotificationRecord] = []
        if !effects.notifications.isEmpty {
            var cursor = try await reserve(
                "notification", count: effects.notifications.count, on: connection, logger: logger
            )
            for notification in effects.notifications {
                let data = try StringMapCoding.encode(notification.data)
                try await connection.exec(
                    """
                    INSERT INTO notifications (cursor, id, user_id, kind, title, body, data, create_time, read)
                    VALUES (\(cursor), \(notification.id), \(notification.userID), \(notification.kind),
                        \(notification.title), \(notification.body), \(data), \(notification.createTime.storageValue),
                        FALSE)
                    """
                )
                notifications.append(
                    NotificationRecord(
                        id: notification.id, userID: notification.userID, kind: notification.kind,
                        title: notification.title, body: notification.body, data: notification.data,
                        createTime: notification.createTime, read: false, cursor: cursor
                    )
                )
                cursor += 1
            }
        }
        return Written(committed: CommittedEffects(events: events, notifications: notifications))
    }

    /// Takes `count` consecutive values of a counter; returns the first. The counter's row stays locked until the
    /// transaction ends, so the next taker waits and values commit in order.
    static func reserve(
        _ name: String, count: Int, on connection: PostgresConnection, logger: Logger
    ) async throws
        -> Int64
    {
        let count = Int64(count)
        guard
            let last = try await connection.rows(
                "UPDATE store_counters SET value = value + \(count) WHERE name = \(name) RETURNING value"
            ).scalar(Int64.self)
        else {
            throw StoreError.unavailable("the \(name) counter is missing; was the store migrated?")
        }
        return last - count + 1
    }
}
