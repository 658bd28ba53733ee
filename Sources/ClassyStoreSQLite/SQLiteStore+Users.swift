import ClassyCore
import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Creates a user with a fresh etag and change sequence.
    public func createUser(_ user: NewUser, effects: StoreEffects) async throws -> UserRecord {
        try await write(effects: effects) { db in
            let email = EmailNormalization.normalize(user.email)
            if try Self.liveUserID(email: email, in: db) != nil {
                throw StoreError.emailTaken(email)
            }
            if user.isPrimaryAdmin,
                try Bool.fetchOne(try db.cachedStatement(sql: "SELECT 1 FROM users WHERE is_primary_admin = 1")) != nil
            {
                throw StoreError.conflict("a primary admin already exists")
            }
            let record = UserRecord(
                id: user.id,
                email: email,
                passwordHash: user.passwordHash,
                firstName: user.firstName,
                lastName: user.lastName,
                role: user.role,
                isPrimaryAdmin: user.isPrimaryAdmin,
                isActive: user.isActive,
                createTime: user.createTime,
                updateTime: user.createTime,
                lastLoginTime: nil,
                etag: Self.makeETag(),
                deleted: false,
                deleteTime: nil,
                changeSequence: try Self.nextUserChangeSequence(in: db)
            )
            try db.cachedStatement(
                sql: """
                    INSERT INTO users (id, email, password_hash, first_name, last_name, role, is_primary_admin,
                        is_active, create_time, update_time, last_login_time, etag, deleted, delete_time, change_sequence)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, 0, NULL, ?)
                    """
            ).execute(
                arguments: [
                    record.id, record.email, record.passwordHash, record.firstName, record.lastName,
                    record.role.rawValue, record.isPrimaryAdmin, record.isActive, record.createTime.storageValue,
                    record.updateTime.storageValue, record.etag, record.changeSequence,
                ]
            )
            return record
        }
    }

    /// Returns the user with `id`, soft-deleted ones included.
    public func user(id: String) async throws -> UserRecord? {
        try await readStatement { db in try Self.fetchUser(id: id, in: db) }
    }

    /// Returns the non-deleted user with `email`.
    public func user(email: String) async throws -> UserRecord? {
        let email = EmailNormalization.normalize(email)
        return try await readStatement { db in try Self.fetchUser(email: email, in: db) }
    }

    /// The account that is not deleted with the normalised `email`.
    static func fetchUser(email: String, in db: Database) throws -> UserRecord? {
        try Row.decodeOne(
            try db.cachedStatement(sql: "SELECT * FROM users WHERE email = ? AND deleted = 0"), arguments: [email],
            as: UserRecord.init(row:))
    }

    /// Returns the primary admin.
    public func primaryAdmin() async throws -> UserRecord? {
        try await read { db in
            try Row.decodeOne(
                try db.cachedStatement(sql: "SELECT * FROM users WHERE is_primary_admin = 1"), as: UserRecord.init(row:)
            )
        }
    }

    /// Counts users.
    public func countUsers(includeDeleted: Bool) async throws -> Int {
        try await readDetached { db in
            try Int.fetchOne(
                try db.cachedStatement(
                    sql: includeDeleted ? "SELECT COUNT(*) FROM users" : "SELECT COUNT(*) FROM users WHERE deleted = 0")
            ) ?? 0
        }
    }

    /// Applies an etag-guarded partial update, optionally revoking sessions, with effects.
    public func updateUser(
        id: String,
        ifETag: String?,
        changes: UserChanges,
        revokingSessions: UserSessionRevocation?,
        effects: StoreEffects,
        now: Date
    ) async throws -> UserMutation {
        try await write(effects: effects) { db in
            var user = try Self.liveUser(id: id, ifETag: ifETag, in: db)
            if !changes.isEmpty {
                if let email = changes.email.map(EmailNormalization.normalize), email != user.email {
                    if try Self.liveUserID(email: email, in: db) != nil {
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
                user.changeSequence = try Self.nextUserChangeSequence(in: db)
                try db.cachedStatement(
                    sql: """
                        UPDATE users SET email = ?, password_hash = ?, first_name = ?, last_name = ?, role = ?,
                            is_active = ?, update_time = ?, etag = ?, change_sequence = ?
                        WHERE id = ?
                        """
                ).execute(
                    arguments: [
                        user.email, user.passwordHash, user.firstName, user.lastName, user.role.rawValue,
                        user.isActive, user.updateTime.storageValue, user.etag, user.changeSequence, user.id,
                    ]
                )
            }
            var revoked: [String] = []
            switch revokingSessions {
            case .none:
                break
            case .all(let reason):
                revoked = try Self.revoke(.allOfUser(userID: id), reason: reason, now: now, in: db)
            case .allExcept(let kept, let reason):
                revoked = try Self.revoke(
                    .allOfUserExcept(userID: id, keptSessionID: kept),
                    reason: reason,
                    now: now,
                    in: db
                )
            }
            return UserMutation(user: user, revokedSessionIDs: revoked)
        }
    }

    /// Soft-deletes a user and revokes all of their sessions, with effects.
    public func deleteUser(id: String, ifETag: String?, effects: StoreEffects, now: Date) async throws -> UserMutation {
        try await write(effects: effects) { db in
            var user = try Self.liveUser(id: id, ifETag: ifETag, in: db)
            user.deleted = true
            user.deleteTime = now
            user.updateTime = now
            user.etag = Self.makeETag()
            user.changeSequence = try Self.nextUserChangeSequence(in: db)
            try db.cachedStatement(
                sql: """
                    UPDATE users SET deleted = 1, delete_time = ?, update_time = ?, etag = ?, change_sequence = ?
                    WHERE id = ?
                    """
            ).execute(
                arguments: [now.storageValue, now.storageValue, user.etag, user.changeSequence, id]
            )
            let revoked = try Self.revoke(.allOfUser(userID: id), reason: "user_deleted", now: now, in: db)
            return UserMutation(user: user, revokedSessionIDs: revoked)
        }
    }

    /// Sets the user's last login time and bumps its change sequence (not its etag).
    public func recordLastLogin(userID: String, time: Date) async throws {
        try await write(effects: .none) { db in
            _ = try Self.setLastLogin(userID: userID, time: time, in: db)
        }
    }

    /// Lists users with filters, keyset paging and the total count, in one snapshot.
    public func listUsers(_ query: UserQuery) async throws -> UserPage {
        var filter = SQLFilter()
        if !query.includeDeleted { filter.add("deleted = 0") }
        if let text = query.text, !text.isEmpty {
            let pattern = likePattern(containing: text)
            filter.add(
                #"(email LIKE ? ESCAPE '\' OR first_name LIKE ? ESCAPE '\' OR last_name LIKE ? ESCAPE '\')"#,
                pattern,
                pattern,
                pattern
            )
        }
        if let role = query.role { filter.add("role = ?", role.rawValue) }
        if let isActive = query.isActive { filter.add("is_active = ?", isActive) }
        let countSQL = "SELECT COUNT(*) FROM users \(filter.whereClause)"
        let countArguments = filter.statementArguments()

        let order: String
        switch query.order {
        case .createTimeAscending:
            order = "create_time ASC, id ASC"
            if let after = query.after {
                filter.add("(create_time, id) > (?, ?)", after.createTime.storageValue, after.id)
            }
        case .createTimeDescending:
            order = "create_time DESC, id DESC"
            if let after = query.after {
                filter.add("(create_time, id) < (?, ?)", after.createTime.storageValue, after.id)
            }
        case .emailAscending:
            order = "email ASC, id ASC"
            if let after = query.after { filter.add("(email, id) > (?, ?)", after.email, after.id) }
        case .emailDescending:
            order = "email DESC, id DESC"
            if let after = query.after { filter.add("(email, id) < (?, ?)", after.email, after.id) }
        }
        let pageSQL = "SELECT * FROM users \(filter.whereClause) ORDER BY \(order) LIMIT ?"
        let pageArguments = filter.statementArguments(max(0, query.limit))
        return try await readDetached { db in
            let users = try Row.decodeAll(
                try db.cachedStatement(sql: pageSQL), arguments: pageArguments, as: UserRecord.init(row:))
            let total = try Int.fetchOne(try db.cachedStatement(sql: countSQL), arguments: countArguments) ?? 0
            return UserPage(users: users, totalCount: total)
        }
    }

    /// Returns users changed after `sequence`, in change order, tombstones included.
    public func userChanges(after sequence: Int64, limit: Int) async throws -> [UserRecord] {
        try await readDetached { db in
            try Row.decodeAll(
                try db.cachedStatement(
                    sql: "SELECT * FROM users WHERE change_sequence > ? ORDER BY change_sequence LIMIT ?"),
                arguments: [sequence, max(0, limit)], as: UserRecord.init(row:))
        }
    }

    /// Returns the highest user change sequence so far.
    public func latestUserChangeSequence() async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(
                try db.cachedStatement(sql: "SELECT value FROM store_counters WHERE name = 'user_change'")) ?? 0
        }
    }

    // MARK: - Transaction building blocks

    static func fetchUser(id: String, in db: Database) throws -> UserRecord? {
        try Row.decodeOne(
            try db.cachedStatement(sql: "SELECT * FROM users WHERE id = ?"), arguments: [id], as: UserRecord.init(row:))
    }

    /// Returns the non-deleted user, checking the etag when one is given.
    static func liveUser(id: String, ifETag: String?, in db: Database) throws -> UserRecord {
        guard let user = try fetchUser(id: id, in: db), !user.deleted else {
            throw StoreError.notFound("user \(id)")
        }
        if let ifETag, ifETag != user.etag {
            throw StoreError.etagMismatch("user \(id)")
        }
        return user
    }

    static func liveUserID(email: String, in db: Database) throws -> String? {
        try String.fetchOne(
            try db.cachedStatement(sql: "SELECT id FROM users WHERE email = ? AND deleted = 0"), arguments: [email])
    }

    /// Takes the next value of the global user change sequence.
    static func nextUserChangeSequence(in db: Database) throws -> Int64 {
        guard
            let value = try Int64.fetchOne(
                try db.cachedStatement(
                    sql: "UPDATE store_counters SET value = value + 1 WHERE name = 'user_change' RETURNING value")
            )
        else {
            throw StoreError.unavailable("the user change counter is missing; was the store migrated?")
        }
        return value
    }

    /// Sets the live user's last login and returns the updated user (one statement); throws NOT_FOUND when there is
    /// no such user or it is deleted.
    static func setLastLogin(userID: String, time: Date, in db: Database) throws -> UserRecord {
        let sequence = try nextUserChangeSequence(in: db)
        guard
            let user = try Row.decodeOne(
                try db.cachedStatement(
                    sql: """
                        UPDATE users SET last_login_time = ?, change_sequence = ? WHERE id = ? AND deleted = 0
                        RETURNING *
                        """),
                arguments: [time.storageValue, sequence, userID], as: UserRecord.init(row:))
        else {
            throw StoreError.notFound("user \(userID)")
        }
        return user
    }

    /// Creates a fresh opaque etag.
    static func makeETag() -> String {
        UUID.randomLowercasedString()
    }
}
