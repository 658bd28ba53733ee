import ClassyStore
import Foundation
import GRDB

extension SQLiteStore {
    /// Stores a new signing key.
    public func insertSigningKey(_ key: SigningKeyRecord) async throws {
        try await write(effects: .none) { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO signing_keys (id, algorithm, private_key, public_key, create_time, retire_time, expire_time)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    key.id, key.algorithm, key.privateKey, key.publicKey, key.createTime.storageValue,
                    key.retireTime.storageValue, key.expireTime.storageValue,
                ]
            )
        }
    }

    /// Returns every key, oldest first.
    public func signingKeys() async throws -> [SigningKeyRecord] {
        try await read { db in
            try Row.decodeAll(
                try db.cachedStatement(sql: "SELECT * FROM signing_keys ORDER BY create_time, id"),
                as: SigningKeyRecord.init(row:))
        }
    }

    /// Returns the keys published at `now`, oldest first.
    public func publishedSigningKeys(now: Date) async throws -> [SigningKeyRecord] {
        try await read { db in
            try Row.decodeAll(
                try db.cachedStatement(
                    sql:
                        "SELECT * FROM signing_keys WHERE expire_time IS NULL OR expire_time > ? ORDER BY create_time, id"
                ),
                arguments: [now.storageValue], as: SigningKeyRecord.init(row:))
        }
    }

    /// Sets a key's retire and expire times.
    public func retireSigningKey(id: String, retireTime: Date, expireTime: Date?) async throws -> SigningKeyRecord? {
        try await write(effects: .none) { db in
            try db.cachedStatement(
                sql: "UPDATE signing_keys SET retire_time = ?, expire_time = ? WHERE id = ?"
            ).execute(
                arguments: [retireTime.storageValue, expireTime.storageValue, id]
            )
            return try Row.decodeOne(
                try db.cachedStatement(sql: "SELECT * FROM signing_keys WHERE id = ?"), arguments: [id],
                as: SigningKeyRecord.init(row:))
        }
    }
}
