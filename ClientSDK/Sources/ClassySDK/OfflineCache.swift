import Foundation
internal import GRDB

/// One account's SQLite file: the last known profile, sessions, notifications, user directory, the
/// stream cursors and the outbox of mutations waiting to be sent.
final class OfflineCache: Sendable {
    let path: String
    let database: DatabaseQueue

    init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        // Created 0600 before SQLite opens it; SQLite gives its journal the same permissions.
        if !FileManager.default.fileExists(atPath: path),
            !FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            !FileManager.default.fileExists(atPath: path)
        {
            throw ClassyClientError(status: .unknown, reason: "CLIENT", message: "cannot create the cache file \(path)")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // The outbox must survive a crash at any point: fsync every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE entry (key TEXT PRIMARY KEY, value BLOB NOT NULL, fetched_time REAL NOT NULL);
                    CREATE TABLE notification (
                        id TEXT PRIMARY KEY, cursor TEXT NOT NULL, create_time REAL, value BLOB NOT NULL);
                    CREATE TABLE directory_user (
                        id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL);
                    CREATE TABLE outbox (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        idempotency_key TEXT NOT NULL,
                        operation BLOB NOT NULL,
                        state BLOB NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        create_time REAL NOT NULL,
                        update_time REAL NOT NULL);
                    """
            )
        }
        return migrator
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    // MARK: single entries (me, sessions, cursors)

    enum Key {
        static let me = "me"
        static let sessions = "sessions"
        static let notificationsPage = "notifications.page"
        static let notificationCursor = "notifications.cursor"
        static let directoryCursor = "directory.cursor"
    }

    /// Entries are wrapped in an object so that bare strings and dates encode everywhere.
    private struct Wrapped<Value: Codable>: Codable {
        var value: Value
    }

    func put<Value: Codable & Sendable>(_ value: Value, at key: String, fetched: Date) throws {
        let data = try Self.encoder.encode(Wrapped(value: value))
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO entry (key, value, fetched_time) VALUES (?, ?, ?)",
                arguments: [key, data, fetched.timeIntervalSince1970]
            )
        }
    }

    func get<Value: Codable>(_ type: Value.Type, at key: String) throws -> (value: Value, fetched: Date)? {
        let row = try database.read { db in
            try Row.fetchOne(db, sql: "SELECT value, fetched_time FROM entry WHERE key = ?", arguments: [key])
        }
        guard let row else { return nil }
        let data: Data = row["value"]
        let fetched: Double = row["fetched_time"]
        return (try Self.decoder.decode(Wrapped<Value>.self, from: data).value, Date(timeIntervalSince1970: fetched))
    }

    // MARK: notifications

    /// Stores notifications (insert or replace by id); `cursor` moves the WatchNotifications resume point.
    func saveNotifications(_ notifications: [UserNotification], advancingCursorTo cursor: String?, now: Date) throws {
        let encoded = try notifications.map { ($0, try Self.encoder.encode($0)) }
        let cursorData = try cursor.map { try Self.encoder.encode(Wrapped(value: $0)) }
        try database.write { db in
            for (notification, data) in encoded {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO notification (id, cursor, create_time, value) VALUES (?, ?, ?, ?)",
                    arguments: [
                        notification.id, notification.cursor, notification.createTime?.timeIntervalSince1970, data,
                    ]
                )
            }
            if let cursorData {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO entry (key, value, fetched_time) VALUES (?, ?, ?)",
                    arguments: [Key.notificationCursor, cursorData, now.timeIntervalSince1970]
                )
            }
        }
    }

    /// Marks cached notifications read (all of them when `ids` is nil).
    func markNotificationsRead(_ ids: [String]?) throws {
        let rows = try database.read { db in try Row.fetchAll(db, sql: "SELECT id, value FROM notification") }
        var updated: [UserNotification] = []
        for row in rows {
            let id: String = row["id"]
            guard ids == nil || ids!.contains(id) else { continue }
            var notification = try Self.decoder.decode(UserNotification.self, from: row["value"] as Data)
            notification.read = true
            updated.append(notification)
        }
        try saveNotifications(updated, advancingCursorTo: nil, now: Date())
    }

    /// The cached notifications, newest first.
    func notifications(unreadOnly: Bool) throws -> [UserNotification] {
        let rows = try database.read { db in
            try Data.fetchAll(db, sql: "SELECT value FROM notification ORDER BY create_time DESC, cursor DESC")
        }
        return try rows.map { try Self.decoder.decode(UserNotification.self, from: $0) }.filter {
            !unreadOnly || !$0.read
        }
    }

    // MARK: user directory

    /// Applies changes from ListUserChanges (tombstones delete) and moves the cursor, in one transaction.
    func applyUserChanges(_ users: [User], cursor: String, now: Date) throws {
        let encoded = try users.map { ($0, try Self.encoder.encode($0)) }
        let cursorData = try Self.encoder.encode(Wrapped(value: cursor))
        try database.write { db in
            for (user, data) in encoded {
                if user.deleted {
                    try db.execute(sql: "DELETE FROM directory_user WHERE id = ?", arguments: [user.id])
                } else {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO directory_user (id, email, name, value) VALUES (?, ?, ?, ?)",
                        arguments: [user.id, user.email, "\(user.firstName) \(user.lastName)", data]
                    )
                }
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO entry (key, value, fetched_time) VALUES (?, ?, ?)",
                arguments: [Key.directoryCursor, cursorData, now.timeIntervalSince1970]
            )
        }
    }

    /// Upserts single users read with GetUser or returned by a mutation (the cursor stays).
    func saveUsers(_ users: [User]) throws {
        let encoded = try users.map { ($0, try Self.encoder.encode($0)) }
        try database.write { db in
            for (user, data) in encoded {
                if user.deleted {
                    try db.execute(sql: "DELETE FROM directory_user WHERE id = ?", arguments: [user.id])
                } else {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO directory_user (id, email, name, value) VALUES (?, ?, ?, ?)",
                        arguments: [user.id, user.email, "\(user.firstName) \(user.lastName)", data]
                    )
                }
            }
        }
    }

    func deleteUser(id: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM directory_user WHERE id = ?", arguments: [id]) }
    }

    /// Cached users whose email or name contains `text` (case-insensitive), by email.
    func users(matching text: String?) throws -> [User] {
        let pattern = "%\(text ?? "")%"
        let rows = try database.read { db in
            try Data.fetchAll(
                db,
                sql: "SELECT value FROM directory_user WHERE email LIKE ? OR name LIKE ? ORDER BY email",
                arguments: [pattern, pattern]
            )
        }
        return try rows.map { try Self.decoder.decode(User.self, from: $0) }
    }

    func user(id: String) throws -> User? {
        let data = try database.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM directory_user WHERE id = ?", arguments: [id])
        }
        return try data.map { try Self.decoder.decode(User.self, from: $0) }
    }
}
