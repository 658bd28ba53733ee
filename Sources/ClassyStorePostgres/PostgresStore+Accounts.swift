import ClassyStore
import Foundation
import PostgresNIO

extension PostgresStore {
    // MARK: - Idempotency

    /// Returns the record for the key if it was created at or after `notBefore`.
    public func idempotencyRecord(callerKey: String, key: String, notBefore: Date) async throws -> IdempotencyRecord? {
        try await read { connection in
            try await Self.fetchIdempotencyRecord(callerKey: callerKey, key: key, notBefore: notBefore, on: connection)
        }
    }

    /// Inserts the record unless a fresh one exists (one atomic upsert); returns the stored record.
    public func saveIdempotencyRecord(_ record: IdempotencyRecord, notBefore: Date) async throws -> IdempotencyRecord {
        try await write(effects: .none) { connection in
            let stored = try await connection.rows(
                """
                INSERT INTO idempotency_keys AS k (caller_key, key, method, response, create_time)
                VALUES (\(record.callerKey), \(record.key), \(record.method), \(record.responseBytes),
                    \(record.createTime.storageValue))
                ON CONFLICT (caller_key, key) DO UPDATE SET method = excluded.method, response = excluded.response,
                    create_time = excluded.create_time
                WHERE k.create_time < \(notBefore.storageValue)
                RETURNING *
                """
            ).one(IdempotencyRecord.init)
            if let stored { return stored }
            guard
                let existing = try await Self.fetchIdempotencyRecord(
                    callerKey: record.callerKey, key: record.key, notBefore: notBefore, on: connection
                )
            else {
                throw StoreError.unavailable("idempotency record vanished during its upsert")
            }
            return existing
        }
    }

    /// Deletes records created before `date`.
    public func purgeIdempotencyRecords(before date: Date) async throws -> Int {
        try await write(effects: .none) { connection in
            try await connection.count(
                "DELETE FROM idempotency_keys WHERE create_time < \(date.storageValue) RETURNING 1"
            )
        }
    }

    private static func fetchIdempotencyRecord(
        callerKey: String,
        key: String,
        notBefore: Date,
        on connection: PostgresConnection
    ) async throws -> IdempotencyRecord? {
        try await connection.rows(
            """
            SELECT * FROM idempotency_keys
            WHERE caller_key = \(callerKey) AND key = \(key) AND create_time >= \(notBefore.storageValue)
            """
        ).one(IdempotencyRecord.init)
    }

    // MARK: - Service accounts

    /// Creates a service account.
    public func createServiceAccount(
        _ account: ServiceAccountRecord, effects: StoreEffects
    ) async throws
        -> ServiceAccountRecord
    {
        try await write(effects: effects) { connection in
            var record = account
            record.deleted = false
            record.deleteTime = nil
            try await connection.exec(
                """
                INSERT INTO service_accounts (id, client_id, name, description, secret_hash, create_time, deleted,
                    delete_time)
                VALUES (\(record.id), \(record.clientID), \(record.name), \(record.description), \(record.secretHash),
                    \(record.createTime.storageValue), FALSE, NULL)
                """
            )
            return record
        }
    }

    /// Returns the account with `id`, deleted ones included.
    public func serviceAccount(id: String) async throws -> ServiceAccountRecord? {
        try await read { connection in
            try await connection.rows("SELECT * FROM service_accounts WHERE id = \(id)").one(ServiceAccountRecord.init)
        }
    }

    /// Returns the non-deleted account with `clientID`.
    public func serviceAccount(clientID: String) async throws -> ServiceAccountRecord? {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM service_accounts WHERE client_id = \(clientID) AND NOT deleted"
            ).one(ServiceAccountRecord.init)
        }
    }

    /// Lists non-deleted accounts, newest first.
    public func listServiceAccounts(after: TimeCursor?, limit: Int) async throws -> [ServiceAccountRecord] {
        var builder = QueryBuilder()
        builder.filter("NOT deleted")
        if let after {
            builder.filter("(create_time, id) < (\(builder.bind(after.time.storageValue)), \(builder.bind(after.id)))")
        }
        let limit = builder.bind(Int64(max(0, limit)))
        let sql = builder.query(
            "SELECT * FROM service_accounts \(builder.whereClause) ORDER BY create_time DESC, id DESC LIMIT \(limit)"
        )
        return try await read { connection in try await connection.rows(sql).all(ServiceAccountRecord.init) }
    }

    /// Soft-deletes an account; writes effects only when it was live.
    public func deleteServiceAccount(
        id: String, now: Date, effects: StoreEffects
    ) async throws
        -> ServiceAccountRecord?
    {
        try await write { connection -> (ServiceAccountRecord?, StoreEffects) in
            guard
                var account = try await connection.rows(
                    "SELECT * FROM service_accounts WHERE id = \(id) AND NOT deleted FOR UPDATE"
                ).one(ServiceAccountRecord.init)
            else {
                return (nil, .none)
            }
            account.deleted = true
            account.deleteTime = now
            try await connection.exec(
                "UPDATE service_accounts SET deleted = TRUE, delete_time = \(now.storageValue) WHERE id = \(id)"
            )
            return (account, effects)
        }
    }

    // MARK: - Signing keys

    /// Stores a new signing key.
    public func insertSigningKey(_ key: SigningKeyRecord) async throws {
        try await write(effects: .none) { connection in
            try await connection.exec(
                """
                INSERT INTO signing_keys (id, algorithm, private_key, public_key, create_time, retire_time, expire_time)
                VALUES (\(key.id), \(key.algorithm), \(key.privateKey), \(key.publicKey), \(key.createTime.storageValue),
                    \(key.retireTime.storageValue), \(key.expireTime.storageValue))
                """
            )
        }
    }

    /// Returns every key, oldest first.
    public func signingKeys() async throws -> [SigningKeyRecord] {
        try await read { connection in
            try await connection.rows("SELECT * FROM signing_keys ORDER BY create_time, id").all(SigningKeyRecord.init)
        }
    }

    /// Returns the keys published at `now`, oldest first.
    public func publishedSigningKeys(now: Date) async throws -> [SigningKeyRecord] {
        try await read { connection in
            try await connection.rows(
                """
                SELECT * FROM signing_keys WHERE expire_time IS NULL OR expire_time > \(now.storageValue)
                ORDER BY create_time, id
                """
            ).all(SigningKeyRecord.init)
        }
    }

    /// Sets a key's retire and expire times.
    public func retireSigningKey(id: String, retireTime: Date, expireTime: Date?) async throws -> SigningKeyRecord? {
        try await write(effects: .none) { connection in
            try await connection.rows(
                """
                UPDATE signing_keys SET retire_time = \(retireTime.storageValue),
                    expire_time = \(expireTime.storageValue)
                WHERE id = \(id) RETURNING *
                """
            ).one(SigningKeyRecord.init)
        }
    }

    // MARK: - Metrics

    /// Computes security metrics with aggregate queries on one connection.
    public func securityMetrics(
        since: Date, now: Date, topFailingIPLimit: Int
    ) async throws
        -> SecurityMetricsSnapshot
    {
        let start = since.storageValue
        let end = now.storageValue
        let buckets = max(1, Int((now.timeIntervalSince(since) / 60).rounded(.up)))
        let topLimit = Int64(max(0, topFailingIPLimit))
        return try await read { connection in
            var attempts = 0
            var successes = 0
            var uniqueIPs = 0
            for try await (a, s, u) in try await connection.rows(
                """
                SELECT COUNT(*), COUNT(*) FILTER (WHERE success), COUNT(DISTINCT ip_address)
                FROM login_attempts WHERE time >= \(start) AND time < \(end)
                """
            ).decode((Int64, Int64, Int64).self) {
                attempts = Int(a)
                successes = Int(s)
                uniqueIPs = Int(u)
            }
            var topFailing: [SecurityMetricsSnapshot.FailingIP] = []
            for try await (ip, failures) in try await connection.rows(
                """
                SELECT ip_address, COUNT(*) AS failures FROM login_attempts
                WHERE time >= \(start) AND time < \(end) AND NOT success
                GROUP BY ip_address ORDER BY failures DESC, ip_address COLLATE "C" ASC LIMIT \(topLimit)
                """
            ).decode((String, Int64).self) {
                topFailing.append(SecurityMetricsSnapshot.FailingIP(ipAddress: ip, count: Int(failures)))
            }
            var perMinute = Array(repeating: 0, count: buckets)
            for try await (bucket, failures) in try await connection.rows(
                """
                SELECT CAST(trunc((time - \(start)) / 60) AS BIGINT) AS bucket, COUNT(*) FROM login_attempts
                WHERE time >= \(start) AND time < \(end) AND NOT success
                GROUP BY bucket
                """
            ).decode((Int64, Int64).self) {
                if perMinute.indices.contains(Int(bucket)) { perMinute[Int(bucket)] = Int(failures) }
            }
            let activeBlocks =
                try await connection.rows(
                    """
                    SELECT COUNT(*) FROM blocked_ips
                    WHERE unblocked_time IS NULL AND (permanent OR blocked_until > \(end))
                    """
                ).scalar(Int64.self) ?? 0
            let lockedAccounts =
                try await connection.rows(
                    "SELECT COUNT(*) FROM account_locks WHERE locked_until > \(end)"
                ).scalar(Int64.self) ?? 0
            let activeSessions = try await Self.countActiveSessions(userID: nil, now: now, on: connection)
            return SecurityMetricsSnapshot(
                loginAttempts: attempts,
                failedLogins: attempts - successes,
                successfulLogins: successes,
                uniqueIPs: uniqueIPs,
                activeBlockedIPs: Int(activeBlocks),
                lockedAccounts: Int(lockedAccounts),
                activeSessions: activeSessions,
                topFailingIPs: topFailing,
                failuresPerMinute: perMinute
            )
        }
    }
}
