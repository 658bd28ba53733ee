import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Returns the record for the key if it was created at or after `notBefore`.
    public func idempotencyRecord(callerKey: String, key: String, notBefore: Date) async throws -> IdempotencyRecord? {
        try await read { db in
            try Self.fetchIdempotencyRecord(callerKey: callerKey, key: key, notBefore: notBefore, in: db)
        }
    }

    /// Inserts the record unless a fresh one exists; returns the stored record.
    public func saveIdempotencyRecord(_ record: IdempotencyRecord, notBefore: Date) async throws -> IdempotencyRecord {
        try await write(effects: .none) { db in
            if let existing = try Self.fetchIdempotencyRecord(
                callerKey: record.callerKey,
                key: record.key,
                notBefore: notBefore,
                in: db
            ) {
                return existing
            }
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO idempotency_keys (caller_key, key, method, response, create_time)
                    VALUES (?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    record.callerKey, record.key, record.method, record.responseBytes, record.createTime.storageValue,
                ]
            )
            return record
        }
    }

    /// Deletes records created before `date`.
    public func purgeIdempotencyRecords(before date: Date) async throws -> Int {
        try await write(effects: .none) { db in
            try db.cachedStatement(sql: "DELETE FROM idempotency_keys WHERE create_time < ?").execute(arguments: [
                date.storageValue
            ])
            return db.changesCount
        }
    }

    private static func fetchIdempotencyRecord(
        callerKey: String,
        key: String,
        notBefore: Date,
        in db: Database
    ) throws -> IdempotencyRecord? {
        try Row.decodeOne(
            try db.cachedStatement(
                sql: "SELECT * FROM idempotency_keys WHERE caller_key = ? AND key = ? AND create_time >= ?"),
            arguments: [callerKey, key, notBefore.storageValue], as: IdempotencyRecord.init(row:))
    }
}
