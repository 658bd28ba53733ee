import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Stores a login attempt that does not count toward locks or blocks.
    public func recordLoginAttempt(_ attempt: LoginAttemptRecord, effects: StoreEffects) async throws {
        try await write(effects: effects) { db in
            try Self.insertAttempt(attempt, in: db)
        }
    }

    /// Counts a failure under the email and/or IP key (sliding window) and returns the counts.
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
        // A bare count (before a password check) is always followed by the attempt's own durable record.
        let durability: GroupCommit.Durability =
            attempt == nil && effects.isEmpty ? .withNextDurableCommit : .immediate
        return try await write(effects: effects, durability: durability) { db in
            let counts = try Self.countFailures(
                keys, window: window, now: now, in: db)
            if let attempt {
                try Self.insertAttempt(attempt, in: db)
            }
            return counts
        }
    }

    /// Counts as a bare ``recordLoginFailure(email:ipKey:ipSuccessesKey:window:now:attempt:effects:)`` and reads the
    /// email's account in the same transaction (the writer's, whose page cache no other connection's commit empties).
    public func preCountLogin(
        email: String,
        ipKey: String?,
        ipSuccessesKey: String?,
        window: TimeInterval,
        now: Date
    ) async throws -> (counts: LoginFailureCounts, account: UserRecord?) {
        let normalized = EmailNormalization.normalize(email)
        let keys = FailureCounterKeys(email: normalized, ipKey: ipKey, ipSuccessesKey: ipSuccessesKey)
        return try await write(effects: .none, durability: .withNextDurableCommit) { db in
            let counts = try Self.countFailures(
                keys, window: window, now: now, in: db)
            return (counts, try Self.fetchUser(email: normalized, in: db))
        }
    }

    /// Counts a failure under each key given; the successes are read first.
    private static func countFailures(
        _ keys: FailureCounterKeys, window: TimeInterval, now: Date, in db: Database
    ) throws -> LoginFailureCounts {
        var counts = LoginFailureCounts(email: 0, ip: 0)
        if let successesKey = keys.ipSuccesses {
            counts.ipSuccesses = try countEntries(key: successesKey, window: window, now: now, in: db)
        }
        if let emailKey = keys.email {
            counts.email = try countFailure(key: emailKey, window: window, now: now, in: db)
        }
        if let ipKey = keys.ip {
            counts.ip = try countFailure(key: ipKey, window: window, now: now, in: db)
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
        @Sendable func counts(_ db: Database) throws -> LoginFailureCounts {
            func count(_ key: String?) throws -> Int {
                guard let key else { return 0 }
                return try Self.countEntries(key: key, window: window, now: now, in: db)
            }
            return LoginFailureCounts(email: try count(keys.email), ip: try count(keys.ip))
        }
        // Two counts read one snapshot; a single count is one statement.
        if keys.email != nil && keys.ip != nil { return try await read(counts) }
        return try await readStatement(counts)
    }

    /// Stores the session, last login, attempt and effects, resets the email's failures and counts the IP's
    /// success, in one transaction.
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
        return try await write { db in
            var effects = effects
            if let newDeviceNotification, try Self.isNewDevice(for: session, in: db) {
                effects.notify(newDeviceNotification)
            }
            // The update finds the live user (or throws NOT_FOUND) and returns it as the new session sees it.
            let user = try Self.setLastLogin(userID: session.userID, time: attempt.time, in: db)
            try Self.insertSession(session, ofLiveUserIn: db)
            try db.cachedStatement(sql: "DELETE FROM login_failures WHERE scope_key = ?").execute(arguments: [emailKey])
            if let successKey {
                try Self.addEntry(key: successKey, window: window, now: attempt.time, in: db)
            }
            try Self.insertAttempt(attempt, in: db)
            return (user, effects)
        }
    }

    /// Forgets the email's counted failures.
    public func resetFailures(email: String) async throws {
        let key = FailureCounterKeys.email(email)
        try await write(effects: .none) { db in
            try db.cachedStatement(sql: "DELETE FROM login_failures WHERE scope_key = ?").execute(arguments: [key])
        }
    }

    /// Returns the lock state of an email.
    public func accountLock(email: String) async throws -> AccountLockRecord? {
        let email = EmailNormalization.normalize(email)
        try checkOpen()
        if let cached = securityCache.lock(email: email) { return cached }
        let generation = securityCache.lockGeneration
        let lock = try await readStatement { db in try Self.fetchLock(email: email, in: db) }
        securityCache.storeLock(lock, email: email, generation: generation)
        return lock
    }

    /// Locks an email, incrementing (or restarting) its lock count.
    public func lockAccount(
        email: String,
        until: Date,
        now: Date,
        escalationResetBefore: Date?,
        effects: StoreEffects
    ) async throws -> AccountLockRecord {
        let email = EmailNormalization.normalize(email)
        return try await write(effects: effects) { db in
            var count = 1
            if let existing = try Self.fetchLock(email: email, in: db) {
                let restart = escalationResetBefore.map { existing.lastLockTime < $0 } ?? false
                count = restart ? 1 : existing.lockCount + 1
            }
            let record = AccountLockRecord(email: email, lockedUntil: until, lockCount: count, lastLockTime: now)
            try db.cachedStatement(
                sql: """
                    INSERT INTO account_locks (email, locked_until, lock_count, last_lock_time, unlock_time)
                    VALUES (?, ?, ?, ?, NULL)
                    ON CONFLICT (email) DO UPDATE SET locked_until = excluded.locked_until,
                        lock_count = excluded.lock_count, last_lock_time = excluded.last_lock_time, unlock_time = NULL
                    """
            ).execute(
                arguments: [email, until.storageValue, count, now.storageValue]
            )
            return record
        }
    }

    /// Lifts an email's lock and resets its failures; writes effects only when a lock record exists.
    public func unlockAccount(email: String, now: Date, effects: StoreEffects) async throws -> AccountLockRecord? {
        let email = EmailNormalization.normalize(email)
        let key = FailureCounterKeys.email(email)
        return try await write { db -> (AccountLockRecord?, StoreEffects) in
            try db.cachedStatement(sql: "DELETE FROM login_failures WHERE scope_key = ?").execute(arguments: [key])
            guard var lock = try Self.fetchLock(email: email, in: db) else { return (nil, .none) }
            lock.lockedUntil = nil
            lock.unlockTime = now
            try db.cachedStatement(
                sql: "UPDATE account_locks SET locked_until = NULL, unlock_time = ? WHERE email = ?"
            ).execute(
                arguments: [now.storageValue, email]
            )
            return (lock, effects)
        }
    }

    /// Blocks an address; an active block of the same address is updated in place.
    public func blockIP(_ block: BlockedIPRecord, effects: StoreEffects) async throws -> BlockedIPRecord {
        try await write(effects: effects) { db in
            if var active = try Self.fetchActiveBlock(ipAddress: block.ipAddress, now: block.createTime, in: db) {
                active.reason = block.reason
                active.attempts = block.attempts
                active.blockedUntil = block.permanent ? nil : block.blockedUntil
                active.permanent = block.permanent
                active.createdBy = block.createdBy ?? active.createdBy
                try db.cachedStatement(
                    sql: """
                        UPDATE blocked_ips SET reason = ?, attempts = ?, blocked_until = ?, permanent = ?, created_by = ?
                        WHERE id = ?
                        """
                ).execute(
                    arguments: [
                        active.reason, active.attempts, active.blockedUntil.storageValue, active.permanent,
                        active.createdBy, active.id,
                    ]
                )
                return active
            }
            var record = block
            record.unblockedTime = nil
            record.unblockReason = nil
            if record.permanent { record.blockedUntil = nil }
            try db.cachedStatement(
                sql: """
                    INSERT INTO blocked_ips (id, ip_address, reason, attempts, blocked_until, permanent, create_time,
                        created_by, unblocked_time, unblock_reason)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
                    """
            ).execute(
                arguments: [
                    record.id, record.ipAddress, record.reason, record.attempts, record.blockedUntil.storageValue,
                    record.permanent, record.createTime.storageValue, record.createdBy,
                ]
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
        try await write { db -> (BlockedIPRecord?, StoreEffects) in
            guard var active = try Self.fetchActiveBlock(ipAddress: ipAddress, now: now, in: db) else {
                return (nil, .none)
            }
            active.unblockedTime = now
            active.unblockReason = reason
            try db.cachedStatement(
                sql: "UPDATE blocked_ips SET unblocked_time = ?, unblock_reason = ? WHERE id = ?"
            ).execute(
                arguments: [now.storageValue, reason, active.id]
            )
            return (active, effects)
        }
    }

    /// Returns the active block of exactly this address.
    public func activeBlock(ipAddress: String, now: Date) async throws -> BlockedIPRecord? {
        // Without an open block none is in force at any time; an open one may have expired at `now`.
        guard try await ipState(ipAddress).hasOpenBlock else { return nil }
        return try await readStatement { db in try Self.fetchActiveBlock(ipAddress: ipAddress, now: now, in: db) }
    }

    /// Returns every block in force at `now`.
    public func activeBlocks(now: Date) async throws -> [BlockedIPRecord] {
        try await readDetached { db in
            try Row.decodeAll(
                try db.cachedStatement(
                    sql: """
                        SELECT * FROM blocked_ips
                        WHERE unblocked_time IS NULL AND (permanent = 1 OR blocked_until > ?)
                        ORDER BY create_time, id
                        """),
                arguments: [now.storageValue], as: BlockedIPRecord.init(row:))
        }
    }

    /// Counts blocks of an address created at or after `since`.
    public func blockCount(ipAddress: String, since: Date) async throws -> Int {
        guard since == .distantPast else {
            return try await readStatement { db in
                try Int.fetchOne(
                    try db.cachedStatement(
                        sql: "SELECT COUNT(*) FROM blocked_ips WHERE ip_address = ? AND create_time >= ?"),
                    arguments: [ipAddress, since.storageValue]
                ) ?? 0
            }
        }
        // Every block ever (the block epoch Login counts under): the cached IP state has it.
        return try await ipState(ipAddress).blockCount
    }

    /// An address's block state, from the security cache or in one read that fills it.
    private func ipState(_ ipAddress: String) async throws -> SecurityStateCache.IPState {
        try checkOpen()
        if let cached = securityCache.ipState(ipAddress) { return cached }
        let generation = securityCache.blockGeneration
        let ipState = try await readStatement { db in try Self.fetchIPState(ipAddress: ipAddress, in: db) }
        securityCache.storeIPState(ipState, key: ipAddress, generation: generation)
        return ipState
    }

    /// Lists blocks, newest first.
    public func listBlockedIPs(_ query: BlockedIPQuery) async throws -> [BlockedIPRecord] {
        var filter = SQLFilter()
        if !query.includeExpired {
            filter.add("unblocked_time IS NULL")
            filter.add("(permanent = 1 OR blocked_until > ?)", query.now.storageValue)
        }
        if let after = query.after { filter.add("(create_time, id) < (?, ?)", after.time.storageValue, after.id) }
        let sql = "SELECT * FROM blocked_ips \(filter.whereClause) ORDER BY create_time DESC, id DESC LIMIT ?"
        let arguments = filter.statementArguments(max(0, query.limit))
        return try await readDetached { db in
            try Row.decodeAll(try db.cachedStatement(sql: sql), arguments: arguments, as: BlockedIPRecord.init(row:))
        }
    }

    /// Lists login attempts, newest first.
    public func listLoginAttempts(_ query: LoginAttemptQuery) async throws -> [LoginAttemptRecord] {
        var filter = SQLFilter()
        if let email = query.email { filter.add("email = ?", EmailNormalization.normalize(email)) }
        if let ip = query.ipAddress { filter.add("ip_address = ?", ip) }
        if let success = query.success { filter.add("success = ?", success) }
        if let start = query.startTime { filter.add("time >= ?", start.storageValue) }
        if let end = query.endTime { filter.add("time < ?", end.storageValue) }
        if let after = query.after { filter.add("(time, id) < (?, ?)", after.time.storageValue, after.id) }
        let sql = "SELECT * FROM login_attempts \(filter.whereClause) ORDER BY time DESC, id DESC LIMIT ?"
        let arguments = filter.statementArguments(max(0, query.limit))
        return try await readDetached { db in
            try Row.decodeAll(try db.cachedStatement(sql: sql), arguments: arguments, as: LoginAttemptRecord.init(row:))
        }
    }

    /// Deletes login attempts and counted failures older than `date`.
    public func deleteLoginAttempts(before date: Date) async throws -> Int {
        try await write(effects: .none) { db in
            try db.cachedStatement(sql: "DELETE FROM login_attempts WHERE time < ?").execute(arguments: [
                date.storageValue
            ])
            let deleted = db.changesCount
            try db.cachedStatement(sql: "DELETE FROM login_failures WHERE time < ?").execute(arguments: [
                date.storageValue
            ])
            return deleted
        }
    }

    // MARK: - Transaction building blocks

    /// Prunes the key's failures outside the window, adds one at `now`, and returns the count in the window.
    static func countFailure(key: String, window: TimeInterval, now: Date, in db: Database) throws -> Int {
        try addEntry(key: key, window: window, now: now, in: db)
        return try countEntries(key: key, window: window, now: now, in: db)
    }

    /// Prunes the key's entries outside the window and adds one at `now` (without counting them).
    static func addEntry(key: String, window: TimeInterval, now: Date, in db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM login_failures WHERE scope_key = ? AND time <= ?").execute(arguments: [
            key, now.addingTimeInterval(-window).storageValue,
        ])
        try db.cachedStatement(
            sql: """
                INSERT INTO login_failures (scope_key, time, count) VALUES (?, ?, 1)
                ON CONFLICT (scope_key, time) DO UPDATE SET count = count + 1
                """
        ).execute(
            arguments: [key, now.storageValue]
        )
    }

    /// The entries under `key` newer than `now - window`.
    static func countEntries(key: String, window: TimeInterval, now: Date, in db: Database) throws -> Int {
        try Int.fetchOne(
            try db.cachedStatement(
                sql: "SELECT COALESCE(SUM(count), 0) FROM login_failures WHERE scope_key = ? AND time > ?"),
            arguments: [key, now.addingTimeInterval(-window).storageValue]
        ) ?? 0
    }

    static func insertAttempt(_ attempt: LoginAttemptRecord, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO login_attempts (id, email, ip_address, success, failure_reason, user_id, session_id,
                    user_agent, device_name, time)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                attempt.id, EmailNormalization.normalize(attempt.email), attempt.ipAddress, attempt.success,
                attempt.failureReason, attempt.userID, attempt.sessionID, attempt.userAgent, attempt.deviceName,
                attempt.time.storageValue,
            ]
        )
    }

    static func fetchLock(email: String, in db: Database) throws -> AccountLockRecord? {
        try Row.decodeOne(
            try db.cachedStatement(sql: "SELECT * FROM account_locks WHERE email = ?"), arguments: [email],
            as: AccountLockRecord.init(row:))
    }

    static func fetchActiveBlock(ipAddress: String, now: Date, in db: Database) throws -> BlockedIPRecord? {
        try Row.decodeOne(
            try db.cachedStatement(
                sql: """
                    SELECT * FROM blocked_ips
                    WHERE ip_address = ? AND unblocked_time IS NULL AND (permanent = 1 OR blocked_until > ?)
                    ORDER BY create_time DESC, id DESC LIMIT 1
                    """),
            arguments: [ipAddress, now.storageValue], as: BlockedIPRecord.init(row:))
    }

    /// How many blocks an address or CIDR ever had, and whether one of them is not lifted.
    static func fetchIPState(ipAddress: String, in db: Database) throws -> SecurityStateCache.IPState {
        let row = try Row.fetchOne(
            try db.cachedStatement(
                sql: "SELECT COUNT(*), COALESCE(SUM(unblocked_time IS NULL), 0) FROM blocked_ips WHERE ip_address = ?"),
            arguments: [ipAddress]
        )
        return SecurityStateCache.IPState(
            blockCount: row.map { $0[0] as Int } ?? 0, hasOpenBlock: (row.map { $0[1] as Int } ?? 0) > 0
        )
    }
}
