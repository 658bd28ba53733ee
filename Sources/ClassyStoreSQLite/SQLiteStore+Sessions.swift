import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Stores a new session for a live user, remembering its refresh-token hash.
    public func createSession(_ session: SessionRecord, effects: StoreEffects) async throws -> SessionRecord {
        try await write(effects: effects) { db in
            try Self.insertSession(session, in: db)
            return session
        }
    }

    /// Returns the session with `id`.
    public func session(id: String) async throws -> SessionRecord? {
        try await readStatement { db in try Self.fetchSession(id: id, in: db) }
    }

    /// Returns the session with `id` and its user: from the session cache, or in one read that fills it.
    public func sessionWithUser(id: String) async throws -> (session: SessionRecord, user: UserRecord)? {
        if let cached = sessionCache.entry(sessionID: id) { return (cached.session, cached.user) }
        let generation = sessionCache.generation
        let entry = try await read { db -> SessionCache.Entry? in
            guard
                let (session, sessionRowID) = try Row.decodeOne(
                    try db.cachedStatement(sql: "SELECT rowid AS row_id, * FROM sessions WHERE id = ?"),
                    arguments: [id],
                    as: { (SessionRecord(row: $0), $0["row_id"] as Int64) }
                ),
                let (user, userRowID) = try Row.decodeOne(
                    try db.cachedStatement(sql: "SELECT rowid AS row_id, * FROM users WHERE id = ?"),
                    arguments: [session.userID],
                    as: { (try UserRecord(row: $0), $0["row_id"] as Int64) }
                )
            else { return nil }
            return SessionCache.Entry(session: session, user: user, sessionRowID: sessionRowID, userRowID: userRowID)
        }
        guard let entry else { return nil }
        sessionCache.store(entry, generation: generation)
        return (entry.session, entry.user)
    }

    /// Returns the session ever issued the refresh token with this hash.
    public func session(refreshHash: String) async throws -> SessionRecord? {
        try await readStatement { db in try Self.fetchSession(refreshHash: refreshHash, in: db) }
    }

    /// Returns the session ever issued the refresh token with this hash and its user, in one read.
    public func sessionWithUser(refreshHash: String) async throws -> (session: SessionRecord, user: UserRecord?)? {
        try await read { db in
            guard let session = try Self.fetchSession(refreshHash: refreshHash, in: db) else { return nil }
            return (session, try Self.fetchUser(id: session.userID, in: db))
        }
    }

    static func fetchSession(refreshHash: String, in db: Database) throws -> SessionRecord? {
        try Row.decodeOne(
            try db.cachedStatement(
                sql: """
                    SELECT sessions.* FROM refresh_tokens
                    JOIN sessions ON sessions.id = refresh_tokens.session_id
                    WHERE refresh_tokens.hash = ?
                    """),
            arguments: [refreshHash], as: SessionRecord.init(row:))
    }

    /// Sets the session's last-used time.
    @discardableResult
    public func touchSession(id: String, time: Date) async throws -> Bool {
        try await write(effects: .none) { db in
            try db.cachedStatement(
                sql: "UPDATE sessions SET last_used_time = ? WHERE id = ?"
            ).execute(
                arguments: [time.storageValue, id]
            )
            return db.changesCount > 0
        }
    }

    /// Compares and swaps the session's refresh token in one write transaction.
    public func rotateRefreshToken(
        _ rotation: RefreshRotation,
        effects: StoreEffects,
        reuseEffects: StoreEffects?
    ) async throws -> RefreshRotationResult {
        try await write { db -> (RefreshRotationResult, StoreEffects) in
            guard var session = try Self.fetchSession(id: rotation.sessionID, in: db) else {
                return (.notFound, .none)
            }
            let presented = rotation.presentedHash
            let isCurrent = presented == session.currentRefreshHash
            let isPrevious = presented == session.previousRefreshHash
            if !isCurrent && !isPrevious {
                let belongs = try Bool.fetchOne(
                    try db.cachedStatement(
                        sql: "SELECT 1 FROM refresh_tokens WHERE hash = ? AND session_id = ?"),
                    arguments: [presented, session.id]
                )
                if belongs == nil { return (.notFound, .none) }
            }
            if !session.isActive(at: rotation.now) {
                return (.revokedOrExpired(session), .none)
            }
            if isCurrent {
                session.previousRefreshHash = presented
                session.previousGraceUntil = rotation.graceUntil
                session.currentRefreshHash = rotation.newHash
                session.generation += 1
                session.lastUsedTime = rotation.now
                session.expireTime = rotation.newExpireTime ?? session.expireTime
                session.currentAccessTokenID = rotation.accessTokenID
                session.lastIssuedPayload = rotation.issuedPayload
                try db.cachedStatement(
                    sql: """
                        UPDATE sessions SET current_refresh_hash = ?, previous_refresh_hash = ?,
                            previous_grace_until = ?, generation = ?, last_used_time = ?, expire_time = ?,
                            current_access_token_id = ?, last_issued_payload = ?
                        WHERE id = ?
                        """
                ).execute(
                    arguments: [
                        session.currentRefreshHash, session.previousRefreshHash,
                        session.previousGraceUntil.storageValue, session.generation, session.lastUsedTime.storageValue,
                        session.expireTime.storageValue, session.currentAccessTokenID, session.lastIssuedPayload,
                        session.id,
                    ]
                )
                try Self.rememberRefreshHash(session.currentRefreshHash, session: session, in: db)
                return (.rotated(session), effects)
            }
            if isPrevious, let grace = session.previousGraceUntil, rotation.now < grace {
                return (.withinGrace(session), .none)
            }
            guard let reuseEffects else {
                return (.reused(session), .none)
            }
            _ = try Self.revoke(.session(id: session.id), reason: "refresh_token_reused", now: rotation.now, in: db)
            session.revokedTime = rotation.now
            session.revokeReason = "refresh_token_reused"
            return (.reused(session), reuseEffects)
        }
    }

    /// Revokes the active sessions in `scope`; writes `effects` only when something was revoked.
    public func revokeSessions(
        _ scope: SessionRevocationScope,
        reason: String,
        now: Date,
        effects: StoreEffects
    ) async throws -> [String] {
        try await write { db in
            let revoked = try Self.revoke(scope, reason: reason, now: now, in: db)
            return (revoked, revoked.isEmpty ? .none : effects)
        }
    }

    /// Lists a user's active sessions, newest first.
    public func activeSessions(
        userID: String, now: Date, after: TimeCursor?, limit: Int
    ) async throws
        -> [SessionRecord]
    {
        var filter = SQLFilter()
        filter.add("user_id = ?", userID)
        filter.add("revoked_time IS NULL")
        filter.add("expire_time > ?", now.storageValue)
        if let after { filter.add("(create_time, id) < (?, ?)", after.time.storageValue, after.id) }
        let sql = "SELECT * FROM sessions \(filter.whereClause) ORDER BY create_time DESC, id DESC LIMIT ?"
        let arguments = filter.statementArguments(max(0, limit))
        return try await readDetached { db in
            try Row.decodeAll(try db.cachedStatement(sql: sql), arguments: arguments, as: SessionRecord.init(row:))
        }
    }

    /// Answers from the user's active-session index in one query.
    public func deviceSighting(userID: String, device: SessionDevice, now: Date) async throws -> DeviceSighting {
        try await readStatement { db in try Self.deviceSighting(userID: userID, device: device, now: now, in: db) }
    }

    static func deviceSighting(
        userID: String, device: SessionDevice, now: Date, in db: Database
    ) throws
        -> DeviceSighting
    {
        let code = try Int.fetchOne(
            try db.cachedStatement(sql: SessionDeviceSQL.sighting),
            arguments: [
                userID, now.storageValue, device.deviceName, device.platform, device.userAgent, userID,
                now.storageValue,
            ]
        )
        return code.flatMap(DeviceSighting.init(rawValue:)) ?? .noActiveSessions
    }

    /// Whether `session`, not stored yet, is its user's first active session from its device while others are
    /// active (``DeviceSighting/newDevice`` at its creation time).
    static func isNewDevice(for session: SessionRecord, in db: Database) throws -> Bool {
        try deviceSighting(userID: session.userID, device: SessionDevice(session), now: session.createTime, in: db)
            == .newDevice
    }

    /// Counts active sessions of a user, or of everyone.
    public func countActiveSessions(userID: String?, now: Date) async throws -> Int {
        try await readDetached { db in try Self.countActiveSessions(userID: userID, now: now, in: db) }
    }

    /// Deletes sessions that expired before `date`.
    public func deleteSessions(expiredBefore date: Date) async throws -> Int {
        try await write(effects: .none) { db in
            try db.cachedStatement(sql: "DELETE FROM sessions WHERE expire_time < ?").execute(arguments: [
                date.storageValue
            ])
            return db.changesCount
        }
    }

    // MARK: - Transaction building blocks

    static func fetchSession(id: String, in db: Database) throws -> SessionRecord? {
        try Row.decodeOne(
            try db.cachedStatement(sql: "SELECT * FROM sessions WHERE id = ?"), arguments: [id],
            as: SessionRecord.init(row:))
    }

    static func insertSession(_ session: SessionRecord, in db: Database) throws {
        let live = try Bool.fetchOne(
            try db.cachedStatement(
                sql: "SELECT 1 FROM users WHERE id = ? AND deleted = 0"),
            arguments: [session.userID]
        )
        guard live != nil else { throw StoreError.notFound("user \(session.userID)") }
        try insertSession(session, ofLiveUserIn: db)
    }

    /// Inserts the session and its refresh hashes; the caller has made sure, in this transaction, that its user
    /// exists and is not deleted.
    static func insertSession(_ session: SessionRecord, ofLiveUserIn db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO sessions (id, user_id, ip_address, user_agent, device_name, platform, app_version,
                    create_time, last_used_time, expire_time, revoked_time, revoke_reason, current_refresh_hash,
                    previous_refresh_hash, previous_grace_until, generation, current_access_token_id, last_issued_payload)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                session.id, session.userID, session.ipAddress, session.userAgent, session.deviceName,
                session.platform, session.appVersion, session.createTime.storageValue,
                session.lastUsedTime.storageValue, session.expireTime.storageValue, session.revokedTime.storageValue,
                session.revokeReason, session.currentRefreshHash, session.previousRefreshHash,
                session.previousGraceUntil.storageValue, session.generation, session.currentAccessTokenID,
                session.lastIssuedPayload,
            ]
        )
        try rememberRefreshHash(session.currentRefreshHash, session: session, in: db)
        if let previous = session.previousRefreshHash {
            try rememberRefreshHash(previous, session: session, generation: max(0, session.generation - 1), in: db)
        }
    }

    static func rememberRefreshHash(
        _ hash: String,
        session: SessionRecord,
        generation: Int? = nil,
        in db: Database
    ) throws {
        try db.cachedStatement(
            sql: "INSERT INTO refresh_tokens (hash, session_id, generation) VALUES (?, ?, ?)"
        ).execute(
            arguments: [hash, session.id, generation ?? session.generation]
        )
    }

    /// Revokes the active sessions in `scope` and returns their ids.
    static func revoke(_ scope: SessionRevocationScope, reason: String, now: Date, in db: Database) throws -> [String] {
        var filter = SQLFilter()
        switch scope {
        case .session(let id):
            filter.add("id = ?", id)
        case .allOfUser(let userID):
            filter.add("user_id = ?", userID)
        case .allOfUserExcept(let userID, let kept):
            filter.add("user_id = ?", userID)
            filter.add("id <> ?", kept)
        }
        filter.add("revoked_time IS NULL")
        filter.add("expire_time > ?", now.storageValue)
        let ids = try String.fetchAll(
            db,
            sql: "UPDATE sessions SET revoked_time = ?, revoke_reason = ? \(filter.whereClause) RETURNING id",
            arguments: StatementArguments([now.storageValue, reason] as [any DatabaseValueConvertible])
                + filter.statementArguments()
        )
        return ids.sorted()
    }

    static func countActiveSessions(userID: String?, now: Date, in db: Database) throws -> Int {
        if let userID {
            return try Int.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_time IS NULL AND expire_time > ?"),
                arguments: [userID, now.storageValue]
            ) ?? 0
        }
        return try Int.fetchOne(
            try db.cachedStatement(
                sql: "SELECT COUNT(*) FROM sessions WHERE revoked_time IS NULL AND expire_time > ?"),
            arguments: [now.storageValue]
        ) ?? 0
    }
}

/// The query behind ``SQLiteStore/deviceSighting(userID:device:now:)`` (the values of ``DeviceSighting``).
enum SessionDeviceSQL {
    static let sighting = """
        SELECT CASE
            WHEN EXISTS (
                SELECT 1 FROM sessions WHERE user_id = ? AND revoked_time IS NULL AND expire_time > ?
                    AND device_name = ? AND platform = ? AND user_agent = ?
            ) THEN 2
            WHEN EXISTS (
                SELECT 1 FROM sessions WHERE user_id = ? AND revoked_time IS NULL AND expire_time > ?
            ) THEN 1
            ELSE 0
        END
        """
}
