import ClassyStore
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Returns events after `sequence`, ascending; `nil` or empty `types` means every type.
    public func events(
        after sequence: UInt64, types: Set<SecurityEventKind>?, limit: Int
    ) async throws
        -> [EventRecord]
    {
        let after = Int64(clamping: sequence)
        let kinds = (types ?? []).map(\.rawValue).sorted()
        let limit = Int64(max(0, limit))
        return try await read { connection in
            if kinds.isEmpty {
                return try await connection.rows(
                    "SELECT * FROM events WHERE sequence > \(after) ORDER BY sequence LIMIT \(limit)"
                ).all(EventRecord.init)
            }
            return try await connection.rows(
                "SELECT * FROM events WHERE sequence > \(after) AND kind = ANY(\(kinds)) ORDER BY sequence LIMIT \(limit)"
            ).all(EventRecord.init)
        }
    }

    /// Returns the highest committed event sequence (0 when the log is empty).
    public func latestEventSequence() async throws -> UInt64 {
        try await read { connection in
            UInt64(try await connection.rows("SELECT COALESCE(MAX(sequence), 0) FROM events").scalar(Int64.self) ?? 0)
        }
    }

    /// Writes effects on their own in one transaction.
    public func commit(_ effects: StoreEffects) async throws -> CommittedEffects {
        try await writeReturningEffects { _ in ((), effects) }.1
    }

    /// Lists audit entries, newest first.
    public func listAuditLogs(_ query: AuditQuery) async throws -> [AuditEntryRecord] {
        var builder = QueryBuilder()
        if let actor = query.actorUserID { builder.filter("actor_user_id = \(builder.bind(actor))") }
        if let action = query.action { builder.filter("action = \(builder.bind(action))") }
        if let resourceType = query.resourceType { builder.filter("resource_type = \(builder.bind(resourceType))") }
        if let start = query.startTime { builder.filter("time >= \(builder.bind(start.storageValue))") }
        if let end = query.endTime { builder.filter("time < \(builder.bind(end.storageValue))") }
        if let after = query.after {
            builder.filter("(time, id) < (\(builder.bind(after.time.storageValue)), \(builder.bind(after.id)))")
        }
        let limit = builder.bind(Int64(max(0, query.limit)))
        let sql = builder.query(
            "SELECT * FROM audit_logs \(builder.whereClause) ORDER BY time DESC, id DESC LIMIT \(limit)"
        )
        return try await read { connection in try await connection.rows(sql).all(AuditEntryRecord.init) }
    }

    // MARK: - Notifications

    /// Returns the user's notifications after `cursor`, ascending.
    public func notifications(userID: String, after cursor: Int64, limit: Int) async throws -> [NotificationRecord] {
        let limit = Int64(max(0, limit))
        return try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM notifications WHERE user_id = \(userID) AND cursor > \(cursor)
                ORDER BY cursor LIMIT \(limit)
                """
            ).all(NotificationRecord.init)
        }
    }

    /// Lists the user's notifications newest first, with the unread count.
    public func listNotifications(
        userID: String, unreadOnly: Bool, before: Int64?, limit: Int
    ) async throws
        -> NotificationPage
    {
        var builder = QueryBuilder()
        builder.filter("user_id = \(builder.bind(userID))")
        if unreadOnly { builder.filter("NOT read") }
        if let before { builder.filter("cursor < \(builder.bind(before))") }
        let limit = builder.bind(Int64(max(0, limit)))
        let sql = builder.query(
            "SELECT * FROM notifications \(builder.whereClause) ORDER BY cursor DESC LIMIT \(limit)")
        return try await read { connection in
            let notifications = try await connection.rows(sql).all(NotificationRecord.init)
            let unread = try await Self.unreadCount(userID: userID, on: connection)
            return NotificationPage(notifications: notifications, unreadCount: unread)
        }
    }

    /// Counts the user's unread notifications.
    public func unreadNotificationCount(userID: String) async throws -> Int {
        try await read { connection in try await Self.unreadCount(userID: userID, on: connection) }
    }

    /// Marks the selected unread notifications as read; returns how many changed.
    public func markNotificationsRead(userID: String, _ selection: NotificationSelection) async throws -> Int {
        try await write(effects: .none) { connection in
            switch selection {
            case .all:
                return try await connection.count(
                    "UPDATE notifications SET read = TRUE WHERE user_id = \(userID) AND NOT read RETURNING 1"
                )
            case .ids(let ids):
                guard !ids.isEmpty else { return 0 }
                let list = Array(ids)
                return try await connection.count(
                    """
                    UPDATE notifications SET read = TRUE
                    WHERE user_id = \(userID) AND NOT read AND id = ANY(\(list)) RETURNING 1
                    """
                )
            }
        }
    }

    /// Returns the user's highest notification cursor (0 when there is none).
    public func latestNotificationCursor(userID: String) async throws -> Int64 {
        try await read { connection in
            try await connection.rows(
                "SELECT COALESCE(MAX(cursor), 0) FROM notifications WHERE user_id = \(userID)"
            ).scalar(Int64.self) ?? 0
        }
    }

    private static func unreadCount(userID: String, on connection: PostgresConnection) async throws -> Int {
        Int(
            try await connection.rows(
                "SELECT COUNT(*) FROM notifications WHERE user_id = \(userID) AND NOT read"
            ).scalar(Int64.self) ?? 0
        )
    }
}
