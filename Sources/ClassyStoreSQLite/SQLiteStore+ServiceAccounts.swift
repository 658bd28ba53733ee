import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Creates a service account.
    public func createServiceAccount(
        _ account: ServiceAccountRecord, effects: StoreEffects
    ) async throws
        -> ServiceAccountRecord
    {
        try await write(effects: effects) { db in
            var record = account
            record.deleted = false
            record.deleteTime = nil
            try db.cachedStatement(
                sql: """
                    INSERT INTO service_accounts (id, client_id, name, description, secret_hash, create_time, deleted,
                        delete_time)
                    VALUES (?, ?, ?, ?, ?, ?, 0, NULL)
                    """
            ).execute(
                arguments: [
                    record.id, record.clientID, record.name, record.description, record.secretHash,
                    record.createTime.storageValue,
                ]
            )
            return record
        }
    }

    /// Returns the account with `id`, deleted ones included.
    public func serviceAccount(id: String) async throws -> ServiceAccountRecord? {
        try await readStatement { db in
            try Row.decodeOne(
                try db.cachedStatement(sql: "SELECT * FROM service_accounts WHERE id = ?"), arguments: [id],
                as: ServiceAccountRecord.init(row:))
        }
    }

    /// Returns the non-deleted account with `clientID`.
    public func serviceAccount(clientID: String) async throws -> ServiceAccountRecord? {
        try await readStatement { db in
            try Row.decodeOne(
                try db.cachedStatement(
                    sql: "SELECT * FROM service_accounts WHERE client_id = ? AND deleted = 0"),
                arguments: [clientID], as: ServiceAccountRecord.init(row:))
        }
    }

    /// Lists non-deleted accounts, newest first.
    public func listServiceAccounts(after: TimeCursor?, limit: Int) async throws -> [ServiceAccountRecord] {
        var filter = SQLFilter()
        filter.add("deleted = 0")
        if let after { filter.add("(create_time, id) < (?, ?)", after.time.storageValue, after.id) }
        let sql = "SELECT * FROM service_accounts \(filter.whereClause) ORDER BY create_time DESC, id DESC LIMIT ?"
        let arguments = filter.statementArguments(max(0, limit))
        return try await readDetached { db in
            try Row.decodeAll(
                try db.cachedStatement(sql: sql), arguments: arguments, as: ServiceAccountRecord.init(row:))
        }
    }

    /// Soft-deletes an account; writes effects only when it was live.
    public func deleteServiceAccount(
        id: String, now: Date, effects: StoreEffects
    ) async throws
        -> ServiceAccountRecord?
    {
        try await write { db -> (ServiceAccountRecord?, StoreEffects) in
            guard
                var account = try Row.decodeOne(
                    try db.cachedStatement(
                        sql: "SELECT * FROM service_accounts WHERE id = ? AND deleted = 0"),
                    arguments: [id], as: ServiceAccountRecord.init(row:))
            else {
                return (nil, .none)
            }
            account.deleted = true
            account.deleteTime = now
            try db.cachedStatement(
                sql: "UPDATE service_accounts SET deleted = 1, delete_time = ? WHERE id = ?"
            ).execute(
                arguments: [now.storageValue, id]
            )
            return (account, effects)
        }
    }
}
