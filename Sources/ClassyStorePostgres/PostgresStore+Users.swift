import ClassyCore
import ClassyStore
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Migrates the schema (see ``PostgresSchema``) under an advisory lock, so concurrent replicas agree.
    public func migrate() async throws {
        let applied = try await write { connection in
            (
                try await PostgresSchema.migrate(on: connection, logger: PostgresConnection.queryLogger),
                StoreEffects.none
            )
        }
        if !applied.isEmpty {
            logger.info(
                "applied store migrations",
                metadata: ["migrations": "\(applied)", "database": "\(configuration.redactedURL)"]
            )
        }
    }

    /// Returns the identifiers of the migrations applied to this database, in order.
    public func appliedMigrations() async throws -> [String] {
        let applied = try await read { connection in
            try await connection.rows("SELECT id FROM schema_migrations").all { try $0("id", as: String.self) }
        }
        return PostgresSchema.migrations.map(\.id).filter { applied.contains($0) }
    }

    /// Creates a user with a fresh etag and change sequence.
    public func createUser(_ user: NewUser, effects: StoreEffects) async throws -> UserRecord {
        try await write(effects: effects) { connection in
            let email = EmailNormalization.normalize(user.email)
            if try await Self.liveUserID(email: email, on: connection) != nil {
                throw StoreError.emailTaken(email)
            }
            if user.isPrimaryAdmin,
                try await connection.rows("SELECT 1 FROM users WHERE is_primary_admin").isNonEmpty()
            {
                throw StoreError.conflict("a primary admin already exists")
            }
            let record = UserRecord(
                id: user.id, email: email, passwordHash: user.passwordHash, firstName: user.firstName,
                lastName: user.lastName, role: user.role, isPrimaryAdmin: user.isPrimaryAdmin, isActive: user.isActive,
                createTime: user.createTime, updateTime: user.createTime, lastLoginTime: nil, etag: Self.makeETag(),
                deleted: false, deleteTime: nil,
                changeSequence: try await Self.nextUserChangeSequence(on: connection)
            )
            try await connection.exec(
                """
                INSERT INTO users (id, email, password_hash, first_name, last_name, role, is_primary_admin,
                    is_active, create_time, update_time, last_login_time, etag, deleted, delete_time, change_sequence)
                VALUES (\(record.id), \(record.email), \(record.passwordHash), \(record.firstName), \(record.lastName),
                    \(record.role.rawValue), \(record.isPrimaryAdmin), \(record.isActive),
                    \(record.createTime.storageValue), \(record.updateTime.storageValue), NULL, \(record.etag), FALSE,
                    NULL, \(record.changeSequence))
                """
            )
            return record
        }
    }

    /// Returns the user with `id`, soft-deleted ones included.
    public func user(id: String) async throws -> UserRecord? {
        try await read { connection in try await Self.fetchUser(id: id, on: connection) }
    }

    /// Returns the non-deleted user with `email`.
    public func user(email: String) async throws -> UserRecord? {
        let email = EmailNormalization.normalize(email)
        return try await read { connection in try await Self.fetchUser(email: email, on: connection) }
    }

    /// The account that is not deleted with the normalised `email`.
    static func fetchUser(email: String, on connection: PostgresConnection) async throws -> UserRecord? {
        try await connection.rows("SELECT * FROM users WHERE email = \(email) AND NOT deleted").one(UserRecord.init)
    }

    /// Returns the primary admin.
    public func primaryAdmin() async throws -> UserRecord? {
        try await read { connection in
            try await connection.rows("SELECT * FROM users WHERE is_primary_admin").one(UserRecord.init)
        }
    }

    /// Counts users.
    public func countUsers(includeDeleted: Bool) async throws -> Int {
        try await read { connection in
            let query: PostgresQuery =
                includeDeleted ? "SELECT COUNT(*) FROM users" : "SELECT COUNT(*) FROM users WHERE NOT deleted"
            return Int(try await connection.rows(query).scalar(Int64.self) ?? 0)
        }
    }

    /// Applies an etag-guarded partial update (the row is locked), optionally revoking sessions, with effects.
    public func updateUser(
        id: String,
        ifETag: String?,
        changes: UserChanges,
        revokingSessions: UserSessionRevocation?,
        effects: StoreEffects,
        now: Date
    ) async throws -> UserMutation {
        try await write(effects: effects) { connection in
            var user = try await Self.liveUser(id: id, ifETag: ifETag, on: connection)
            if !changes.isEmpty {
                if let email = changes.email.map(EmailNormalization.normalize), email != user.email {
                    if try await Self.liveUserID(email: email, on: connection) != nil {
                        throw StoreError.emailTaken(email)
                    }
                    user.email = email
                }
                if let passwordHash = changes.passwordHash { user.passwordHash = passwordHash }
                if let firstName = changes.firstName { user.firstName = firstName }
                if let lastName = changes.lastName { user.lastName = lastName }
                if let role = changes.role { user.role = role }
                if let isActive = changes.isActive { user.isActive = isActive }
                user.updateTime = now
                user.etag = Self.makeETag()
                user.changeSequence = try await Self.nextUserChangeSequence(on: connection)
                try await connection.exec(
                    """
                    UPDATE users SET email = \(user.email), password_hash = \(user.passwordHash),
                        first_name = \(user.firstName), last_name = \(user.lastName), role = \(user.role.rawValue),
                        is_active = \(user.isActive), update_time = \(user.updateTime.storageValue),
                        etag = \(user.etag), change_sequence = \(user.changeSequence)
                    WHERE id = \(user.id)
                    """
                )
            }
            var revoked: [String] = []
            switch revokingSessions {
            case .none:
                break
            case .all(let reason):
                revoked = try await Self.revoke(.allOfUser(userID: id), reason: reason, now: now, on: connection)
            case .allExcept(let kept, let reason):
                revoked = try await Self.revoke(
                    .allOfUserExcept(userID: id, keptSessionID: kept), reason: reason, now: now, on: connection
                )
            }
            return UserMutation(user: user, revokedSessionIDs: revoked)
        }
    }

    /// Soft-deletes a user and revokes all of their sessions, with effects.
    public func deleteUser(id: String, ifETag: String?, effects: StoreEffects, now: Date) async throws -> UserMutation {
        try await write(effects: effects) { connection in
            var user = try await Self.liveUser(id: id, ifETag: ifETag, on: connection)
            user.deleted = true
            user.deleteTime = now
            user.updateTime = now
            user.etag = Self.makeETag()
            user.changeSequence = try await Self.nextUserChangeSequence(on: connection)
            try await connection.exec(
                """
                UPDATE users SET deleted = TRUE, delete_time = \(now.storageValue), update_time = \(now.storageValue),
                    etag = \(user.etag), change_sequence = \(user.changeSequence)
                WHERE id = \(id)
                """
            )
            let revoked = try await Self.revoke(
                .allOfUser(userID: id), reason: "user_deleted", now: now, on: connection)
            return UserMutation(user: user, revokedSessionIDs: revoked)
        }
    }

    /// Sets the user's last login time and bumps its change sequence (not its etag).
    public func recordLastLogin(userID: String, time: Date) async throws {
        try await write(effects: .none) { connection in
            try await Self.setLastLogin(userID: userID, time: time, on: connection)
        }
    }

    /// Lists users with filters, keyset paging and the total count.
    public func listUsers(_ query: UserQuery) async throws -> UserPage {
        var builder = QueryBuilder()
        if !query.includeDeleted { builder.filter("NOT deleted") }
        if let text = query.text, !text.isEmpty {
            let pattern = builder.bind(likePattern(containing: text))
            builder.filter(
                #"(email ILIKE \#(pattern) ESCAPE '\' OR first_name ILIKE \#(pattern) ESCAPE '\' OR last_name ILIKE \#(pattern) ESCAPE '\')"#
            )
        }
        if let role = query.role { builder.filter("role = \(builder.bind(role.rawValue))") }
        if let isActive = query.isActive { builder.filter("is_active = \(builder.bind(isActive))") }
        let countQuery = builder.query("SELECT COUNT(*) FROM users \(builder.whereClause)")

        let order: String
        switch query.order {
        case .createTimeAscending:
            order = "create_time ASC, id ASC"
            if let after = query.after {
                builder.filter(
                    "(create_time, id) > (\(builder.bind(after.createTime.storageValue)), \(builder.bind(after.id)))"
                )
            }
        case .createTimeDescending:
            order = "create_time DESC, id DESC"
            if let after = query.after {
                builder.filter(
                    "(create_time, id) < (\(builder.bind(after.createTime.storageValue)), \(builder.bind(after.id)))"
                )
            }
        case .emailAscending:
            order = "email COLLATE \"C\" ASC, id COLLATE \"C\" ASC"
            if let after = query.after {
                builder.filter(
                    "(email COLLATE \"C\", id COLLATE \"C\") > (\(builder.bind(after.email)), \(builder.bind(after.id)))"
                )
            }
        case .emailDescending:
            order = "email COLLATE \"C\" DESC, id COLLATE \"C\" DESC"
            if let after = query.after {
                builder.filter(
                    "(email COLLATE \"C\", id COLLATE \"C\") < (\(builder.bind(after.email)), \(builder.bind(after.id)))"
                )
            }
        }
        let limit = builder.bind(Int64(max(0, query.limit)))
        let pageQuery = builder.query("SELECT * FROM users \(builder.whereClause) ORDER BY \(order) LIMIT \(limit)")
        return try await read { connection in
            let users = try await connection.rows(pageQuery).all(UserRecord.init)
            let total = Int(try await connection.rows(countQuery).scalar(Int64.self) ?? 0)
            return UserPage(users: users, totalCount: total)
        }
    }

    /// Returns users changed after `sequence`, in change order, tombstones included.
    public func userChanges(after sequence: Int64, limit: Int) async throws -> [UserRecord] {
        let limit = Int64(max(0, limit))
        return try await read { connection in
            try await connection.rows(
                "SELECT * FROM users WHERE change_sequence > \(sequence) ORDER BY change_sequence LIMIT \(limit)"
            ).all(UserRecord.init)
        }
    }

    /// Returns the highest user change sequence so far.
    public func latestUserChangeSequence() async throws -> Int64 {
        try await read { connection in
            try await connection.rows("SELECT value FROM store_counters WHERE name = 'user_change'")
                .scalar(Int64.self) ?? 0
        }
    }

    // MARK: - Transaction building blocks

    static func fetchUser(id: String, on connection: PostgresConnection) async throws -> UserRecord? {
        try await connection.rows("SELECT * FROM users WHERE id = \(id)").one(UserRecord.init)
    }

    /// Returns the non-deleted user, locked (before any counter) for the rest of the transaction, checking the etag when one is given.
    static func liveUser(id: String, ifETag: String?, on connection: PostgresConnection) async throws -> UserRecord {
        guard
            let user = try await connection.rows("SELECT * FROM users WHERE id = \(id) FOR NO KEY UPDATE")
                .one(UserRecord.init), !user.deleted
        else {
            throw StoreError.notFound("user \(id)")
        }
        if let ifETag, ifETag != user.etag {
            throw StoreError.etagMismatch("user \(id)")
        }
        return user
    }

    static func liveUserID(email: String, on connection: PostgresConnection) async throws -> String? {
        try await connection.rows("SELECT id FROM users WHERE email = \(email) AND NOT deleted").scalar(String.self)
    }

    /// Takes the next value of the global user change sequence (its row stays locked until commit).
    static func nextUserChangeSequence(on connection: PostgresConnection) async throws -> Int64 {
        guard
            let value = try await connection.rows(
                "UPDATE store_counters SET value = value + 1 WHERE name = 'user_change' RETURNING value"
            ).scalar(Int64.self)
        else {
            throw StoreError.unavailable("the user change counter is missing; was the store migrated?")
        }
        return value
    }

    static func setLastLogin(userID: String, time: Date, on connection: PostgresConnection) async throws {
        // The user row before the counter, as everywhere, so concurrent transactions cannot deadlock.
        guard
            try await connection.rows("SELECT 1 FROM users WHERE id = \(userID) AND NOT deleted FOR NO KEY UPDATE")
                .isNonEmpty()
        else {
            throw StoreError.notFound("user \(userID)")
        }
        let sequence = try await nextUserChangeSequence(on: connection)
        let changed = try await connection.count(
            """
            UPDATE users SET last_login_time = \(time.storageValue), change_sequence = \(sequence)
            WHERE id = \(userID) AND NOT deleted RETURNING 1
            """
        )
        if changed == 0 {
            throw StoreError.notFound("user \(userID)")
        }
    }

    /// Creates a fresh opaque etag.
    static func makeETag() -> String {
        UUID.randomLowercasedString()
    }
}
