import ClassyStore
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Stores a new session for a live user, remembering its refresh-token hash.
    public func createSession(_ session: SessionRecord, effects: StoreEffects) async throws -> SessionRecord {
        try await write(effects: effects) { connection in
            try await Self.insertSession(session, on: connection)
            return session
        }
    }

    /// Returns the session with `id`.
    public func session(id: String) async throws -> SessionRecord? {
        try await read { connection in try await Self.fetchSession(id: id, on: connection) }
    }

    /// Returns the session with `id` and its user, read on one leased connection (the authentication hot path).
    public func sessionWithUser(id: String) async throws -> (session: SessionRecord, user: UserRecord)? {
        let pair = try await read { connection -> SessionAndUser? in
            guard let session = try await Self.fetchSession(id: id, on: connection),
                let user = try await Self.fetchUser(id: session.userID, on: connection)
            else { return nil }
            return SessionAndUser(session: session, user: user)
        }
        return pair.map { ($0.session, $0.user) }
    }

    /// Returns the session ever issued the refresh token with this hash.
    public func session(refreshHash: String) async throws -> SessionRecord? {
        try await read { connection in
            try await connection.rows(
                """
                SELECT sessions.* FROM refresh_tokens JOIN sessions ON sessions.id = refresh_tokens.session_id
                WHERE refresh_tokens.hash = \(refreshHash)
                """
            ).one(SessionRecord.init)
        }
    }

    /// Sets the session's last-used time.
    @discardableResult
    public func touchSession(id: String, time: Date) async throws -> Bool {
        try await write(effects: .none) { connection in
            try await connection.count(
                "UPDATE sessions SET last_used_time = \(time.storageValue) WHERE id = \(id) RETURNING 1"
            ) > 0
        }
    }

    /// Compares and swaps the session's refresh token with the session row locked.
    public func rotateRefreshToken(
        _ rotation: RefreshRotation,
        effects: StoreEffects,
        reuseEffects: StoreEffects?
    ) async throws -> RefreshRotationResult {
        try await write { connection -> (RefreshRotationResult, StoreEffects) in
            guard
                var session = try await connection.rows(
                    "SELECT * FROM sessions WHERE id = \(rotation.sessionID) FOR UPDATE"
                ).one(SessionRecord.init)
            else {
                return (.notFound, .none)
            }
            let presented = rotation.presentedHash
            let isCurrent = presented == session.currentRefreshHash
            let isPrevious = presented == session.previousRefreshHash
            if !isCurrent && !isPrevious {
                let belongs = try await connection.rows(
                    "SELECT 1 FROM refresh_tokens WHERE hash = \(presented) AND session_id = \(session.id)"
                ).isNonEmpty()
                if !belongs { return (.notFound, .none) }
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
                try await connection.exec(
                    """
                    UPDATE sessions SET current_refresh_hash = \(session.currentRefreshHash),
                        previous_refresh_hash = \(session.previousRefreshHash),
                        previous_grace_until = \(session.previousGraceUntil.storageValue),
                        generation = \(Int64(session.generation)), last_used_time = \(session.lastUsedTime.storageValue),
                        expire_time = \(session.expireTime.storageValue),
                        current_access_token_id = \(session.currentAccessTokenID),
                        last_issued_payload = \(session.lastIssuedPayload)
                    WHERE id = \(session.id)
                    """
                )
                try await Self.rememberRefreshHash(session.currentRefreshHash, session: session, on: connection)
                return (.rotated(session), effects)
            }
            if isPrevious, let grace = session.previousGraceUntil, rotation.now < grace {
                return (.withinGrace(session), .none)
            }
            guard let reuseEffects else {
                return (.reused(session), .none)
            }
            _ = try await Self.revoke(
                .session(id: session.id), reason: "refresh_token_reused", now: rotation.now, on: connection
            )
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
        try await write { connection in
            let revoked = try await Self.revoke(scope, reason: reason, now: now, on: connection)
            return (revoked, revoked.isEmpty ? .none : effects)
        }
    }

    /// Lists a user's active sessions, newest first.
    public func activeSessions(
        userID: String, now: Date, after: TimeCursor?, limit: Int
    ) async throws
        -> [SessionRecord]
    {
        var builder = QueryBuilder()
        builder.filter("user_id = \(builder.bind(userID))")
        builder.filter("revoked_time IS NULL")
        builder.filter("expire_time > \(builder.bind(now.storageValue))")
        if let after {
            builder.filter("(create_time, id) < (\(builder.bind(after.time.storageValue)), \(builder.bind(after.id)))")
        }
        let limit = builder.bind(Int64(max(0, limit)))
        let query = builder.query(
            "SELECT * FROM sessions \(builder.whereClause) ORDER BY create_time DESC, id DESC LIMIT \(limit)"
        )
        return try await read { connection in try await connection.rows(query).all(SessionRecord.init) }
    }

    /// Answers from the user's active sessions in one query.
    public func deviceSighting(userID: String, device: SessionDevice, now: Date) async throws -> DeviceSighting {
        try await read { connection in
            try await Self.deviceSighting(userID: userID, device: device, now: now, on: connection)
        }
    }

    static func deviceSighting(
        userID: String, device: SessionDevice, now: Date, on connection: PostgresConnection
    ) async throws -> DeviceSighting {
        let code = try await connection.rows(
            """
            SELECT (CASE
                WHEN EXISTS (
                    SELECT 1 FROM sessions
                    WHERE user_id = \(userID) AND revoked_time IS NULL AND expire_time > \(now.storageValue)
                        AND device_name = \(device.deviceName) AND platform = \(device.platform)
                        AND user_agent = \(device.userAgent)
                ) THEN 2
                WHEN EXISTS (
                    SELECT 1 FROM sessions
                    WHERE user_id = \(userID) AND revoked_time IS NULL AND expire_time > \(now.storageValue)
                ) THEN 1
                ELSE 0
            END)::bigint
            """
        ).scalar(Int64.self)
        return code.flatMap { DeviceSighting(rawValue: Int($0)) } ?? .noActiveSessions
    }

    /// Counts active sessions of a user, or of everyone.
    public func countActiveSessions(userID: String?, now: Date) async throws -> Int {
        try await read { connection in try await Self.countActiveSessions(userID: userID, now: now, on: connection) }
    }

    /// Deletes sessions that expired before `date`.
    public func deleteSessions(expiredBefore date: Date) async throws -> Int {
        try await write(effects: .none) { connection in
            try await connection.count("DELETE FROM sessions WHERE expire_time < \(date.storageValue) RETURNING 1")
        }
    }

    // MARK: - Transaction building blocks

    static func fetchSession(id: String, on connection: PostgresConnection) async throws -> SessionRecord? {
        try await connection.rows("SELECT * FROM sessions WHERE id = \(id)").one(SessionRecord.init)
    }

    static func insertSession(_ session: SessionRecord, on connection: PostgresConnection) async throws {
        guard
            try await connection.rows("SELECT 1 FROM users WHERE id = \(session.userID) AND NOT deleted FOR KEY SHARE")
                .isNonEmpty()
        else {
            throw StoreError.notFound("user \(session.userID)")
        }
        try await connection.exec(
            """
            INSERT INTO sessions (id, user_id, ip_address, user_agent, device_name, platform, app_version,
                create_time, last_used_time, expire_time, revoked_time, revoke_reason, current_refresh_hash,
                previous_refresh_hash, previous_grace_until, generation, current_access_token_id, last_issued_payload)
            VALUES (\(session.id), \(session.userID), \(session.ipAddress), \(session.userAgent),
                \(session.deviceName), \(session.platform), \(session.appVersion), \(session.createTime.storageValue),
                \(session.lastUsedTime.storageValue), \(session.expireTime.storageValue),
                \(session.revokedTime.storageValue), \(session.revokeReason), \(session.currentRefreshHash),
                \(session.previousRefreshHash), \(session.previousGraceUntil.storageValue), \(Int64(session.generation)),
                \(session.currentAccessTokenID), \(session.lastIssuedPayload))
            """
        )
        try await rememberRefreshHash(session.currentRefreshHash, session: session, on: connection)
        if let previous = session.previousRefreshHash {
            try await rememberRefreshHash(
                previous, session: session, generation: max(0, session.generation - 1), on: connection
            )
        }
    }

    static func rememberRefreshHash(
        _ hash: String,
        session: SessionRecord,
        generation: Int? = nil,
        on connection: PostgresConnection
    ) async throws {
        let generation = Int64(generation ?? session.generation)
        try await connection.exec(
            "INSERT INTO refresh_tokens (hash, session_id, generation) VALUES (\(hash), \(session.id), \(generation))"
        )
    }

    /// Revokes the active sessions in `scope` and returns their ids, sorted.
    static func revoke(
        _ scope: SessionRevocationScope,
        reason: String,
        now: Date,
        on connection: PostgresConnection
    ) async throws -> [String] {
        var builder = QueryBuilder()
        let revokedTime = builder.bind(now.storageValue)
        let revokeReason = builder.bind(reason)
        switch scope {
        case .session(let id):
            builder.filter("id = \(builder.bind(id))")
        case .allOfUser(let userID):
            builder.filter("user_id = \(builder.bind(userID))")
        case .allOfUserExcept(let userID, let kept):
            builder.filter("user_id = \(builder.bind(userID))")
            builder.filter("id <> \(builder.bind(kept))")
        }
        builder.filter("revoked_time IS NULL")
        builder.filter("expire_time > \(revokedTime)")
        let query = builder.query(
            "UPDATE sessions SET revoked_time = \(revokedTime), revoke_reason = \(revokeReason) \(builder.whereClause) RETURNING id"
        )
        return try await connection.rows(query).all { try $0("id", as: String.self) }.sorted()
    }

    static func countActiveSessions(userID: String?, now: Date, on connection: PostgresConnection) async throws -> Int {
        let count: Int64?
        if let userID {
            count = try await connection.rows(
                """
                SELECT COUNT(*) FROM sessions
                WHERE user_id = \(userID) AND revoked_time IS NULL AND expire_time > \(now.storageValue)
                """
            ).scalar(Int64.self)
        } else {
            count = try await connection.rows(
                "SELECT COUNT(*) FROM sessions WHERE revoked_time IS NULL AND expire_time > \(now.storageValue)"
            ).scalar(Int64.self)
        }
        return Int(count ?? 0)
    }
}

/// A session and its user, read together.
struct SessionAndUser: Sendable {
    var session: SessionRecord
    var user: UserRecord
}
