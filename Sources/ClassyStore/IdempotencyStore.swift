import Foundation

/// First responses of mutating RPCs by `(callerKey, key)`, kept for 24 hours.
public protocol IdempotencyStore: Sendable {
    /// Returns the record for the key if it was created at or after `notBefore` (older ones count as absent).
    func idempotencyRecord(callerKey: String, key: String, notBefore: Date) async throws -> IdempotencyRecord?

    /// Inserts `record` unless a record for its key created at or after `notBefore` exists; returns the record
    /// that is stored now (the existing one wins, so concurrent first calls all get the same response).
    func saveIdempotencyRecord(_ record: IdempotencyRecord, notBefore: Date) async throws -> IdempotencyRecord

    /// Deletes records created before `date`; returns how many.
    func purgeIdempotencyRecords(before date: Date) async throws -> Int
}
