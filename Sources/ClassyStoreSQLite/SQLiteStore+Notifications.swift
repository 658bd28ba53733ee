import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Returns the user's notifications after `cursor`, ascending.
    public func notifications(userID: String, after cursor: Int64, limit: Int) async throws -> [NotificationRecord] {
        try await readDetached { db in
            try Row.decodeAll(
                try db.cachedStatement(
                    sql: "SELECT * FROM notifications WHERE user_id = ? AND cursor > ? ORDER BY cursor LIMIT ?"),
                arguments: [userID, cursor, max(0, limit)], as: NotificationRecord.init(row:))
        }
    }

    /// Lists the user's notifications newest first, with the unread count, in one snapshot.
    public func listNotifications(
        userID: String, unreadOnly: Bool, before: Int64?, limit: Int
    ) async throws
        -> NotificationPage
    {
        var filter = SQLFilter()
        filter.add("user_id = ?", userID)
        if unreadOnly { filter.add("read = 0") }
        if let before { filter.add("cursor < ?", before) }
        let sql = "SELECT * FROM notifications \(filter.whereClause) ORDER BY cursor DESC LIMIT ?"
        let arguments = filter.statementArguments(max(0, limit))
        return try await readDetached { db in
            let notifications = try Row.decodeAll(
                try db.cachedStatement(sql: sql), arguments: arguments, as: NotificationRecord.init(row:))
            let unread = try Self.unreadCount(userID: userID, in: db)
            return NotificationPage(notifications: notifications, unreadCount: unread)
        }
    }

    /// Counts the user's unread notifications.
    public func unreadNotificationCount(userID: String) async throws -> Int {
        try await readDetached { db in try Self.unreadCount(userID: userID, in: db) }
    }

    /// Marks the selected unread notifications as read; returns how many changed.
    public func markNotificationsRead(userID: String, _ selection: NotificationSelection) async throws -> Int {
        try await write(effects: .none) { db in
            switch selection {
            case .all:
                try db.cachedStatement(
                    sql: "UPDATE notifications SET read = 1 WHERE user_id = ? AND read = 0"
                ).execute(
                    arguments: [userID]
                )
            case .ids(let ids):
                guard !ids.isEmpty else { return 0 }
                let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
                try db.execute(
                    sql: "UPDATE notifications SET read = 1 WHERE user_id = ? AND read = 0 AND id IN (\(marks))",
                    arguments: StatementArguments([userID] + ids)
                )
            }
            return db.changesCount
        }
    }

    /// Returns the user's highest notification cursor (0 when there is none).
    public func latestNotificationCursor(userID: String) async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT COALESCE(MAX(cursor), 0) FROM notifications WHERE user_id = ?"),
                arguments: [userID]
            ) ?? 0
        }
    }

    private static func unreadCount(userID: String, in db: Database) throws -> Int {
        try Int.fetchOne(
            try db.cachedStatement(
                sql: "SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read = 0"),
            arguments: [userID]
        ) ?? 0
    }
}
