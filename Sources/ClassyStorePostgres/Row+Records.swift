import ClassyCore
import ClassyStore
import Foundation
import Logging
import PostgresNIO

/// Named-column access to a result row, with the store's date representation.
struct Columns {
    let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) { self.row = row.makeRandomAccess() }

    /// Decodes a column.
    func callAsFunction<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try row[name].decode(T.self)
    }

    /// Decodes a required date column.
    func date(_ name: String) throws -> Date { Date(storageValue: try self(name, as: Double.self)) }

    /// Decodes an optional date column.
    func optionalDate(_ name: String) throws -> Date? { try self(name, as: Double?.self).map(Date.init(storageValue:)) }

    /// Decodes a non-negative integer column stored as BIGINT.
    func int(_ name: String) throws -> Int { Int(try self(name, as: Int64.self)) }
}

/// How dates are stored: `DOUBLE PRECISION` seconds since the reference date (2001-01-01 UTC).
extension Date {
    var storageValue: Double { timeIntervalSinceReferenceDate }
    init(storageValue: Double) { self.init(timeIntervalSinceReferenceDate: storageValue) }
}

extension Optional where Wrapped == Date {
    var storageValue: Double? { self?.storageValue }
}

extension PostgresRowSequence {
    /// Decodes every row with `transform`.
    func all<T>(_ transform: (Columns) throws -> T) async throws -> [T] {
        var result: [T] = []
        for try await row in self { result.append(try transform(Columns(row))) }
        return result
    }

    /// Decodes the first row with `transform`, if there is one (the rest are drained).
    func one<T>(_ transform: (Columns) throws -> T) async throws -> T? {
        var result: T?
        for try await row in self where result == nil { result = try transform(Columns(row)) }
        return result
    }

    /// The first column of the first row, decoded as `T`.
    func scalar<T: PostgresDecodable>(_ type: T.Type = T.self) async throws -> T? {
        var result: T?
        for try await row in self where result == nil {
            var cells = row.makeIterator()
            result = try cells.next()?.decode(T.self)
        }
        return result
    }

    /// Whether any row came back (the rows are drained).
    func isNonEmpty() async throws -> Bool {
        var found = false
        for try await _ in self { found = true }
        return found
    }
}

extension UserRecord {
    init(_ c: Columns) throws {
        let roleValue = try c("role", as: String.self)
        guard let role = Role(rawValue: roleValue) else {
            throw StoreError.invalid("unknown role \(roleValue) in users row")
        }
        self.init(
            id: try c("id"), email: try c("email"), passwordHash: try c("password_hash"),
            firstName: try c("first_name"), lastName: try c("last_name"), role: role,
            isPrimaryAdmin: try c("is_primary_admin"), isActive: try c("is_active"),
            createTime: try c.date("create_time"), updateTime: try c.date("update_time"),
            lastLoginTime: try c.optionalDate("last_login_time"), etag: try c("etag"), deleted: try c("deleted"),
            deleteTime: try c.optionalDate("delete_time"), changeSequence: try c("change_sequence", as: Int64.self)
        )
    }
}

extension SessionRecord {
    init(_ c: Columns) throws {
        self.init(
            id: try c("id"), userID: try c("user_id"), ipAddress: try c("ip_address"), userAgent: try c("user_agent"),
            deviceName: try c("device_name"), platform: try c("platform"), appVersion: try c("app_version"),
            createTime: try c.date("create_time"), lastUsedTime: try c.date("last_used_time"),
            expireTime: try c.date("expire_time"), revokedTime: try c.optionalDate("revoked_time"),
            revokeReason: try c("revoke_reason"), currentRefreshHash: try c("current_refresh_hash"),
            previousRefreshHash: try c("previous_refresh_hash"),
            previousGraceUntil: try c.optionalDate("previous_grace_until"), generation: try c.int("generation"),
            currentAccessTokenID: try c("current_access_token_id"), lastIssuedPayload: try c("last_issued_payload")
        )
    }
}

extension LoginAttemptRecord {
    init(_ c: Columns) throws {
        self.init(
            id: try c("id"), email: try c("email"), ipAddress: try c("ip_address"), success: try c("success"),
            failureReason: try c("failure_reason"), userID: try c("user_id"), sessionID: try c("session_id"),
            userAgent: try c("user_agent"), deviceName: try c("device_name"), time: try c.date("time")
        )
    }
}

extension BlockedIPRecord {
    init(_ c: Columns) throws {
        self.init(
            id: try c("id"), ipAddress: try c("ip_address"), reason: try c("reason"), attempts: try c.int("attempts"),
            blockedUntil: try c.optionalDate("blocked_until"), permanent: try c("permanent"),
            createTime: try c.date("create_time"), createdBy: try c("created_by"),
            unblockedTime: try c.optionalDate("unblocked_time"), unblockReason: try c("unblock_reason")
        )
    }
}

extension AccountLockRecord {
    init(_ c: Columns) throws {
        self.init(
            email: try c("email"), lockedUntil: try c.optionalDate("locked_until"), lockCount: try c.int("lock_count"),
            lastLockTime: try c.date("last_lock_time"), unlockTime: try c.optionalDate("unlock_time")
        )
    }
}

extension AuditEntryRecord {
    init(_ c: Columns) throws {
        self.init(
            id: try c("id"), action: try c("action"), actorUserID: try c("actor_user_id"),
            resourceType: try c("resource_type"), resourceID: try c("resource_id"),
            details: try StringMapCoding.decode(try c("details")), ipAddress: try c("ip_address"),
            time: try c.date("time")
        )
    }
}

extension EventRecord {
    init(_ c: Columns) throws {
        let kindValue = try c("kind", as: String.self)
        guard let kind = SecurityEventKind(rawValue: kindValue) else {
            throw StoreError.invalid("unknown event kind \(kindValue) in events row")
        }
        self.init(
            sequence: UInt64(try c("sequence", as: Int64.self)), kind: kind, time: try c.date("time"),
            payload: try c("payload")
        )
    }
}

extension NotificationRecord {
    init(_ c: Columns) throws {
        self.init(
            id: try c("id"), userID: try c("user_id"), kind: try c("kind"), title: try c("title"), body: try c("body"),
            data: try StringMapCoding.decode(try c("data")), createTime: try c.date("create_time"),
            read: try c("read"), cursor: try c("cursor", as: Int64.self)
        )
    }
}

extension IdempotencyRecord {
    init(_ c: Columns) throws {
        self.init(
            callerKey: try c("caller_key"), key: try c("key"), method: try c("method"),
            responseBytes: try c("response"), createTime: try c.date("create_time")
        )
    }
}

extension ServiceAccountRecord {
    init(_ c: Columns) throws {
        self.init(
            id: try c("id"), clientID: try c("client_id"), name: try c("name"), description: try c("description"),
            secretHash: try c("secret_hash"), createTime: try c.date("create_time"), deleted: try c("deleted"),
            deleteTime: try c.optionalDate("delete_time")
        )
    }
}

extension SigningKeyRecord {
    init(_ c: Columns) throws {
        self.init(
            id: try c("id"), algorithm: try c("algorithm"), privateKey: try c("private_key"),
            publicKey: try c("public_key"), createTime: try c.date("create_time"),
            retireTime: try c.optionalDate("retire_time"), expireTime: try c.optionalDate("expire_time")
        )
    }
}

/// Builds a parameterised query from SQL fragments, numbering `$n` placeholders as values are bound.
struct QueryBuilder {
    private(set) var binds = PostgresBindings()
    private var clauses: [String] = []

    /// Binds a value and returns its placeholder.
    mutating func bind<V: PostgresDynamicTypeEncodable>(_ value: V) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// Binds an optional value (NULL for nil) and returns its placeholder.
    mutating func bind<V: PostgresDynamicTypeEncodable>(_ value: V?) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// Adds a `WHERE` clause.
    mutating func filter(_ clause: String) { clauses.append(clause) }

    /// The `WHERE ...` text, or an empty string without clauses.
    var whereClause: String { clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ") }

    /// The query with `sql`.
    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
func likePattern(containing text: String) -> String {
    var escaped = ""
    for character in text {
        if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
        escaped.append(character)
    }
    return "%" + escaped + "%"
}

extension PostgresConnection {
    /// The logger queries run with (postgres-nio logs at debug and trace only).
    static let queryLogger = Logger(label: "classy.store.postgres.query")

    /// Runs a query and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await self.query(query, logger: Self.queryLogger)
    }

    /// Runs a statement and drains whatever it returns.
    func exec(_ query: PostgresQuery) async throws {
        for try await _ in try await rows(query) {}
    }

    /// Counts the rows a statement returns (use `RETURNING 1` to count affected rows).
    func count(_ query: PostgresQuery) async throws -> Int {
        var count = 0
        for try await _ in try await rows(query) { count += 1 }
        return count
    }

    /// Takes a transaction-level advisory lock on `key` (released at commit or rollback).
    func lock(_ key: String) async throws {
        try await exec("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))")
    }
}
