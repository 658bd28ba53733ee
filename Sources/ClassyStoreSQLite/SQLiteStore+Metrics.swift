import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Computes security metrics with aggregate queries over indexes, in one read snapshot.
    public func securityMetrics(
        since: Date, now: Date, topFailingIPLimit: Int
    ) async throws
        -> SecurityMetricsSnapshot
    {
        let start = since.storageValue
        let end = now.storageValue
        let buckets = max(1, Int((now.timeIntervalSince(since) / 60).rounded(.up)))
        let topLimit = max(0, topFailingIPLimit)
        return try await readDetached { db in
            let totals = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT COUNT(*) AS attempts, COALESCE(SUM(success), 0) AS successes,
                            COUNT(DISTINCT ip_address) AS ips
                        FROM login_attempts WHERE time >= ? AND time < ?
                        """),
                arguments: [start, end]
            )
            let attempts: Int = totals?["attempts"] ?? 0
            let successes: Int = totals?["successes"] ?? 0
            let uniqueIPs: Int = totals?["ips"] ?? 0

            let topFailing = try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT ip_address, COUNT(*) AS failures FROM login_attempts
                        WHERE time >= ? AND time < ? AND success = 0
                        GROUP BY ip_address ORDER BY failures DESC, ip_address ASC LIMIT ?
                        """),
                arguments: [start, end, topLimit]
            ).map { SecurityMetricsSnapshot.FailingIP(ipAddress: $0["ip_address"], count: $0["failures"]) }

            var perMinute = Array(repeating: 0, count: buckets)
            let bucketRows = try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT CAST((time - ?) / 60 AS INTEGER) AS bucket, COUNT(*) AS failures FROM login_attempts
                        WHERE time >= ? AND time < ? AND success = 0
                        GROUP BY bucket
                        """),
                arguments: [start, start, end]
            )
            for row in bucketRows {
                let bucket: Int = row["bucket"]
                if perMinute.indices.contains(bucket) { perMinute[bucket] = row["failures"] }
            }

            let activeBlocks =
                try Int.fetchOne(
                    try db.cachedStatement(
                        sql: """
                            SELECT COUNT(*) FROM blocked_ips
                            WHERE unblocked_time IS NULL AND (permanent = 1 OR blocked_until > ?)
                            """),
                    arguments: [end]
                ) ?? 0
            let lockedAccounts =
                try Int.fetchOne(
                    try db.cachedStatement(
                        sql: "SELECT COUNT(*) FROM account_locks WHERE locked_until > ?"),
                    arguments: [end]
                ) ?? 0
            let activeSessions = try Self.countActiveSessions(userID: nil, now: now, in: db)

            return SecurityMetricsSnapshot(
                loginAttempts: attempts,
                failedLogins: attempts - successes,
                successfulLogins: successes,
                uniqueIPs: uniqueIPs,
                activeBlockedIPs: activeBlocks,
                lockedAccounts: lockedAccounts,
                activeSessions: activeSessions,
                topFailingIPs: topFailing,
                failuresPerMinute: perMinute
            )
        }
    }
}
