import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Returns events after `sequence`, ascending; `nil` or empty `types` means every type.
    public func events(
        after sequence: UInt64, types: Set<SecurityEventKind>?, limit: Int
    ) async throws
        -> [EventRecord]
    {
        let after = Int64(clamping: sequence)
        let kinds = (types ?? []).map(\.rawValue).sorted()
        let limit = max(0, limit)
        return try await readDetached { db in
            var filter = SQLFilter()
            filter.add("sequence > ?", after)
            if !kinds.isEmpty {
                filter.add(
                    "kind IN (\(Array(repeating: "?", count: kinds.count).joined(separator: ", ")))",
                    values: kinds
                )
            }
            return try Row.decodeAll(
                try db.makeStatement(sql: "SELECT * FROM events \(filter.whereClause) ORDER BY sequence LIMIT ?"),
                arguments: filter.statementArguments(limit),
                as: EventRecord.init(row:)
            )
        }
    }

    /// Returns the highest committed event sequence (0 when the log is empty).
    public func latestEventSequence() async throws -> UInt64 {
        try await read { db in
            UInt64(
                try Int64.fetchOne(try db.cachedStatement(sql: "SELECT COALESCE(MAX(sequence), 0) FROM events")) ?? 0)
        }
    }

    /// Writes effects on their own in one transaction.
    public func commit(_ effects: StoreEffects) async throws -> CommittedEffects {
        try checkOpen()
        do {
            return try await groupCommit.write(announcing: { db in
                let written = try EffectsWriter.insert(effects, in: db)
                return (written.committed, written.wakeUp)
            })
        } catch {
            throw SQLiteErrorMapping.map(error, logger: logger)
        }
    }

    /// Lists audit entries, newest first.
    public func listAuditLogs(_ query: AuditQuery) async throws -> [AuditEntryRecord] {
        var filter = SQLFilter()
        if let actor = query.actorUserID { filter.add("actor_user_id = ?", actor) }
        if let action = query.action { filter.add("action = ?", action) }
        if let resourceType = query.resourceType { filter.add("resource_type = ?", resourceType) }
        if let start = query.startTime { filter.add("time >= ?", start.storageValue) }
        if let end = query.endTime { filter.add("time < ?", end.storageValue) }
        if let after = query.after { filter.add("(time, id) < (?, ?)", after.time.storageValue, after.id) }
        let sql = "SELECT * FROM audit_logs \(filter.whereClause) ORDER BY time DESC, id DESC LIMIT ?"
        let arguments = filter.statementArguments(max(0, query.limit))
        return try await readDetached { db in
            try Row.decodeAll(try db.cachedStatement(sql: sql), arguments: arguments, as: AuditEntryRecord.init(row:))
        }
    }
}
