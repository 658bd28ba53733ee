import ClassyStore
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Stores a login attempt that does not count toward locks or blocks.
    public func recordLoginAttempt(_ attempt: LoginAttemptRecord, effects: StoreEffects) async throws {
        try await write(effects: effects) { connection in
            try await Self.insertAttempt(attempt, on: connection)
        }
    }

    /// Counts a failure under the email and/or IP key (sliding window, each key under its advisory lock, email
    /// first) and returns the counts; replicas sharing the database share the counters.
    public func recordLoginFailure(
        email: String?,
        ipKey: String?,
        ipSuccessesKey: String?,
        window: TimeInterval,
        now: Date,
        attempt: LoginAttemptRecord?,
        effects: StoreEffects
    ) async throws -> LoginFailureCounts {
        let keys = FailureCounterKeys(email: email, ipKey: ipKey, ipSuccessesKey: ipSuccessesKey)
        // A bare count (before a password check) is always followed by the attempt's own durable record, whose
        // WAL flush covers this commit too.
        let deferDurability = attempt == nil && effects.isEmpty
        return try await write(effects: effects) { connection in
            if deferDurability { try await connection.exec("SET LOCAL synchronous_commit = off") }
            let counts = try await Self.countFailures(
                keys, window: window, now: now, on: connection)
            if let attempt {
                try await Self.insertAttempt(attempt, on: connection)
            }
            return counts
        }
    }

    /// Counts as a bare ``recordLoginFailure(email:ipKey:ipSuccessesKey:window:now:attempt:effects:)`` and reads the
    /// email's account in the same transaction.
    public func preCountLogin(
        email: String,
        ipKey: String?,
        ipSuccessesKey: String?,
        window: TimeInterval,
        now: Date
    ) async throws -> (counts: LoginFailureCounts, account: UserRecord?) {
        let normalized = EmailNormalization.normalize(email)
        let keys = FailureCounterKeys(email: normalized, ipKey: ipKey, ipSuccessesKey: ipSuccessesKey)
        return try await write(effects: .none) { connection in
            try await connection.exec("SET LOCAL synchronous_commit = off")
            let counts = try await Self.countFailures(
                keys, window: window, now: now, on: connection)
            return (counts, try await Self.fetchUser(email: normalized, on: connection))
        }
    }

    /// Counts a failure under each key given; the successes are read first.
    private static func countFailures(
        _ keys: FailureCounterKeys, window: TimeInterval, now: Date,
        on connection: PostgresConnection
    ) async throws -> LoginFailureCounts {
        var counts = LoginFailureCounts(email: 0, ip: 0)
        if let successesKey = keys.ipSuccesses {
            // Read before the count (and without its lock): every success committed by now follows the count of
            // its own attempt, which the count below sees.
            counts.ipSuccesses = try await countEntries(key: successesKey, window: window, now: now, on: connection)
        }
        if let emailKey = keys.email {
            counts.email = try await countFailure(key: emailKey, window: window, now: now, on: connection)
        }
        if let ipKey = keys.ip {
            counts.ip = try await countFailure(key: ipKey, window: window, now: now, on: connection)
        }
        return counts
    }

    /// Returns the failure counts within `window` without counting a failure.
    public func loginFailureCounts(
        email: String?, ipKey: String?, window: TimeInterval, now: Date
    ) async throws
        -> LoginFailureCounts
    {
        let keys = FailureCounterKeys(email: email, ipKey: ipKey)
        return try await read { connection in
            func count(_ key: String?) async throws -> Int {
                guard let key else { return 0 }
                return try await Self.countEntries(key: key, window: window, now: now, on: connection)
            }
            return LoginFailureCounts(email: try await count(keys.email), ip: try await count(keys.ip))
        }
    }

    /// Stores the session, last login, attempt and effects, resets the email's failures and counts the IP's
    /// success, in one transaction (the email's key locked before the IP's, as when counting failures).
    public func recordSuccessfulLogin(
        session: SessionRecord,
        attempt: LoginAttemptRecord,
        ipSuccessKey: String?,
        window: TimeInterval,
        effects: StoreEffects,
        newDeviceNotification: NewNotification?
    ) async throws -> UserRecord {
        let emailKey = FailureCounterKeys.email(attempt.email)
        let successKey = ipSuccessKey.map(FailureCounterKeys.ip)
        return try await write { connection in
            var effects = effects
            if let newDeviceNotification,
                try await Self.deviceSighting(
                    userID: session.userID, device: SessionDevice(session), now: session.createTime, on: connection)
                    == .newDevice
            {
                effects.notify(newDeviceNotification)
            }
            try await Self.insertSession(session, on: connection)
            try await Self.setLastLogin(userID: session.userID, time: attempt.time, on: connection)
            try await connection.lock(emailKey)
            try await connection.exec("DELETE FROM login_failures WHERE scope_key = \(emailKey)")
            if let successKey {
                _ = try await Self.countFailure(key: successKey, window: window, now: attempt.time, on: connection)
            }
            try await Self.insertAttempt(attempt, on: connection)
            guard let user = try await Self.fetchUser(id: session.userID, on: connection) else {
                throw StoreError.notFound("user \(session.userID)")
            }
            return (user, effects)
        }
    }

    /// Forgets the email's counted failures.
    public func resetFailures(email: String) async throws {
        let key = FailureCounterKeys.email(email)
        try await write(effects: .none) { connection in
            try await connection.lock(key)
            try await connection.exec("DELETE FROM login_failures WHERE scope_key = \(key)")
        }
    }

    /// Returns the lock state of an email.
    public func accountLock(email: String) async throws -> AccountLockRecord? {
        let email = EmailNormalization.normalize(email)
        return try await read { connection in try await Self.fetchLock(email: email, on: connection) }
    }

    /// Locks an email, incrementing (or restarting) its lock count, under the email's advisory lock.
    public func lockAccount(
        email: String,
        until: Date,
        now: Date,
        escalationResetBefore: Date?,
        effects: StoreEffects
    ) async throws -> AccountLockRecord {
        let email = EmailNormalization.normalize(email)
        return try await write(effects: effects) { connection in
            try await connection.lock("lock:" + email)
            var count = 1
            if let existing = try await Self.fetchLock(email: email, on: connection) {
                let restart = escalationResetBefore.map { existing.lastLockTime < $0 } ?? false
                count = restart ? 1 : existing.lockCount + 1
            }
            let record = AccountLockRecord(email: email, lockedUntil: until, lockCount: count, lastLockTime: now)
            try await connection.exec(
                """
                INSERT INTO account_locks (email, locked_until, lock_count, last_lock_time, unlock_time)
                VALUES (\(email), \(until.storageValue), \(Int64(count)), \(now.storageValue), NULL)
                ON CONFLICT (email) DO UPDATE SET locked_until = excluded.locked_until,
                    lock_count = excluded.lock_count, last_lock_time = excluded.last_lock_time, unlock_time = NULL
                """
            )
            return record
        }
    }

    /// Lifts an email's lock and resets its failures; writes effects only when a lock record exists.
    public func unlockAccount(email: String, now: Date, effects: StoreEffects) async throws -> AccountLockRecord? {
        let email = EmailNormalization.normalize(email)
        let key = FailureCounterKeys.email(email)
        return try await write { connection -> (AccountLockRecord?, StoreEffects) in
            try await connection.lock(key)
            try await connection.lock("lock:" + email)
            try await connection.exec("DELETE FROM login_failures WHERE scope_key = \(key)")
            guard var lock = try await Self.fetchLock(email: email, on: connection) else { return (nil, .none) }
            lock.lockedUntil = nil
            lock.unlockTime = now
            try await connection.exec(
                "UPDATE account_locks SET locked_until = NULL, unlock_time = \(now.storageValue) WHERE email = \(email)"
            )
            return (lock, effects)
        }
    }

    /// Blocks an address under its advisory lock; an active block of the same address is updated in place.
    public func blockIP(_ block: BlockedIPRecord, effects: StoreEffects) async throws -> BlockedIPRecord {
        try await write(effects: effects) { connection in
            try await connection.lock("block:" + block.ipAddress)
            if var active = try await Self.fetchActiveBlock(
                ipAddress: block.ipAddress, now: block.createTime, on: connection
            ) {
                active.reason = block.reason
                active.attempts = block.attempts
                active.blockedUntil = block.permanent ? nil : block.blockedUntil
                active.permanent = block.permanent
                active.createdBy = block.createdBy ?? active.createdBy
                try await connection.exec(
                    """
                    UPDATE blocked_ips SET reason = \(active.reason), attempts = \(Int64(active.attempts)),
                        blocked_until = \(active.blockedUntil.storageValue), permanent = \(active.permanent),
                        created_by = \(active.createdBy)
                    WHERE id = \(active.id)
                    """
                )
                return active
            }
            var record = block
            record.unblockedTime = nil
            record.unblockReason = nil
            if record.permanent { record.blockedUntil = nil }
            try await connection.exec(
                """
                INSERT INTO blocked_ips (id, ip_address, reason, attempts, blocked_until, permanent, create_time,
                    created_by, unblocked_time, unblock_reason)
                VALUES (\(record.id), \(record.ipAddress), \(record.reason), \(Int64(record.attempts)),
                    \(record.blockedUntil.storageValue), \(record.permanent), \(record.createTime.storageValue),
                    \(record.createdBy), NULL, NULL)
                """
            )
            return record
        }
    }

    /// Lifts the active block of an address; writes effects only when one was active.
    public func unblockIP(
        ipAddress: String, reason: String, now: Date, effects: StoreEffects
    ) async throws
        -> BlockedIPRecord?
    {
        try await write { connection -> (BlockedIPRecord?, StoreEffects) in
            try await connection.lock("block:" + ipAddress)
            guard var active = try await Self.fetchActiveBlock(ipAddress: ipAddress, now: now, on: connection) else {
                return (nil, .none)
            }
            active.unblockedTime = now
            active.unblockReason = reason
            try await connection.exec(
                """
                UPDATE blocked_ips SET unblocked_time = \(now.storageValue), unblock_reason = \(reason)
                WHERE id = \(active.id)
                """
            )
            return (active, effects)
        }
    }

    /// Returns the active block of exactly this address.
    public func activeBlock(ipAddress: String, now: Date) async throws -> BlockedIPRecord? {
        try await read { connection in try await Self.fetchActiveBlock(ipAddress: ipAddress, now: now, on: connection) }
    }

    /// Returns every block in force at `now`.
    public func activeBlocks(now: Date) async throws -> [BlockedIPRecord] {
        try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM blocked_ips
                WHERE unblocked_time IS NULL AND (permanent OR blocked_until > \(now.storageValue))
                ORDER BY create_time, id
                """
            ).all(BlockedIPRecord.init)
        }
    }

    /// Counts blocks of an address created at or after `since`.
    public func blockCount(ipAddress: String, since: Date) async throws -> Int {
        try await read { connection in
            Int(
                try await connection.rows(
                    """
                    SELECT COUNT(*) FROM blocked_ips
                    WHERE ip_address = \(ipAddress) AND create_time >= \(since.storageValue)
                    """
                ).scalar(Int64.self) ?? 0
            )
        }
    }

    /// Lists blocks, newest first.
    public func listBlockedIPs(_ query: BlockedIPQuery) async throws -> [BlockedIPRecord] {
        var builder = QueryBuilder()
        if !query.includeExpired {
            builder.filter("unblocked_time IS NULL")
            builder.filter("(permanent OR blocked_until > \(builder.bind(query.now.storageValue)))")
        }
        if let after = query.after {
            builder.filter("(create_time, id) < (\(builder.bind(after.time.storageValue)), \(builder.bind(after.id)))")
        }
        let limit = builder.bind(Int64(max(0, query.limit)))
        let sql = builder.query(
            "SELECT * FROM blocked_ips \(builder.whereClause) ORDER BY create_time DESC, id DESC LIMIT \(limit)"
        )
        return try await read { connection in try await connection.rows(sql).all(BlockedIPRecord.init) }
    }

    /// Lists login attempts, newest first.
    public func listLoginAttempts(_ query: LoginAttemptQuery) async throws -> [LoginAttemptRecord] {
        var builder = QueryBuilder()
        if let email = query.email { builder.filter("email = \(builder.bind(EmailNormalization.normalize(email)))") }
        if let ip = query.ipAddress { builder.filter("ip_address = \(builder.bind(ip))") }
        if let success = query.success { builder.filter("success = \(builder.bind(success))") }
        if let start = query.startTime { builder.filter("time >= \(builder.bind(start.storageValue))") }
        if let end = query.endTime { builder.filter("time < \(builder.bind(end.storageValue))") }
        if let after = query.after {
            builder.filter("(time, id) < (\(builder.bind(after.time.storageValue)), \(builder.bind(after.id)))")
        }
        let limit = builder.bind(Int64(max(0, query.limit)))
        let sql = builder.query(
            "SELECT * FROM login_attempts \(builder.whereClause) ORDER BY time DESC, id DESC LIMIT \(limit)"
        )
        return try await read { connection in try await connection.rows(sql).all(LoginAttemptRecord.init) }
    }

    /// Deletes login attempts and counted failures older than `date`.
    public func deleteLoginAttempts(before date: Date) async throws -> Int {
        try await write(effects: .none) { connection in
            let deleted = try await connection.count(
                "DELETE FROM login_attempts WHERE time < \(date.storageValue) RETURNING 1"
            )
            try await connection.exec("DELETE FROM login_failures WHERE time < \(date.storageValue)")
            return deleted
        }
    }

    // MARK: - Transaction building blocks

    /// Under the key's advisory lock: prunes failures outside the window, adds one at `now`, and returns the count
    /// in the window (so N concurrent failures observe N distinct counts, on any replica).
    static func countFailure(
        key: String, window: TimeInterval, now: Date, on connection: PostgresConnection
    )
        async throws -> Int
    {
        let since = now.addingTimeInterval(-window).storageValue
        try await connection.lock(key)
        try await connection.exec("DELETE FROM login_failures WHERE scope_key = \(key) AND time <= \(since)")
        try await connection.exec("INSERT INTO login_failures (scope_key, time) VALUES (\(key), \(now.storageValue))")
        return try await countEntries(key: key, window: window, now: now, on: connection)
    }

    /// The entries under `key` newer than `now - window`.
    static func countEntries(
        key: String, window: TimeInterval, now: Date, on connection: PostgresConnection
    ) async throws -> Int {
        let since = now.addingTimeInterval(-window).storageValue
        return Int(
            try await connection.rows(
                "SELECT COUNT(*) FROM login_failures WHERE scope_key = \(key) AND time > \(since)"
            ).scalar(Int64.self) ?? 0
        )
    }

    static func insertAttempt(_ attempt: LoginAttemptRecord, on connection: PostgresConnection) async throws {
        try await connection.exec(
            """
            INSERT INTO login_attempts (id, email, ip_address, success, failure_reason, user_id, session_id,
                user_agent, device_name, time)
            VALUES (\(attempt.id), \(EmailNormalization.normalize(attempt.email)), \(attempt.ipAddress),
                \(attempt.success), \(attempt.failureReason), \(attempt.userID), \(attempt.sessionID),
                \(attempt.userAgent), \(attempt.deviceName), \(attempt.time.storageValue))
            """
        )
    }

    static func fetchLock(email: String, on connection: PostgresConnection) async throws -> AccountLockRecord? {
        try await connection.rows("SELECT * FROM account_locks WHERE email = \(email)").one(AccountLockRecord.init)
    }

    static func fetchActiveBlock(
        ipAddress: String, now: Date, on connection: PostgresConnection
    ) async throws
        -> BlockedIPRecord?
    {
        try await connection.rows(
            """
            SELECT * FROM blocked_ips
            WHERE ip_address = \(ipAddress) AND unblocked_time IS NULL
                AND (permanent OR blocked_until > \(now.storageValue))
            ORDER BY create_time DESC, id DESC LIMIT 1
            """
        ).one(BlockedIPRecord.init)
    }
}
