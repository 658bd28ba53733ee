import Foundation
internal import GRDB

/// A mutation the outbox can hold and replay.
public enum MutationOperation: Sendable, Hashable, Codable {
    /// UpdateMe: nil leaves a name unchanged; `etag` is the profile version the change was made on.
    case updateMe(firstName: String?, lastName: String?, etag: String)
    /// MarkNotificationsRead: these ids, or all of them.
    case markNotificationsRead(ids: [String], all: Bool)
    /// CreateUser (admins). The pending password is kept in the account's cache file (0600) until sent.
    case createUser(NewUser)
    /// UpdateUser (admins) at the version `etag`.
    case updateUser(userID: String, changes: UserUpdate, etag: String)
    /// DeleteUser (admins) at the version `etag`.
    case deleteUser(userID: String, etag: String)
    /// BlockIP (admins): an address or CIDR, for `durationSeconds` (nil: permanent).
    case blockIP(ipAddress: String, reason: String, durationSeconds: Int64?)
    /// UnblockIP (admins).
    case unblockIP(ipAddress: String, reason: String)
    /// UnlockAccount (admins).
    case unlockAccount(email: String)

    /// The RPC's name, for display.
    public var name: String {
        switch self {
        case .updateMe: "UpdateMe"
        case .markNotificationsRead: "MarkNotificationsRead"
        case .createUser: "CreateUser"
        case .updateUser: "UpdateUser"
        case .deleteUser: "DeleteUser"
        case .blockIP: "BlockIP"
        case .unblockIP: "UnblockIP"
        case .unlockAccount: "UnlockAccount"
        }
    }
}

/// A stale etag met during replay: what the client wanted and what the server has.
public struct SyncConflict: Sendable, Hashable, Codable {
    /// The mutation that was refused.
    public var operation: MutationOperation
    /// The record as the client wanted it (the server's version with the local change applied).
    public var local: User?
    /// The record on the server now; nil when it was deleted.
    public var server: User?
}

/// What to do with a conflict.
public enum ConflictResolution: Sendable, Hashable {
    /// Drop the local change (it stays in the outbox as `.conflicted` for inspection).
    case keepServer
    /// Apply the local change again on top of the server's version.
    case applyLocal
    /// Apply these changes on top of the server's version instead (a merge).
    case apply(UserUpdate)
}

/// How the outbox resolves conflicts.
public enum ConflictPolicy: Sendable {
    /// The server's version stands (default); the local change is kept for inspection.
    case serverWins
    /// The local change is applied again at the server's current etag.
    case clientWins
    /// The app decides for each conflict.
    case custom(@Sendable (SyncConflict) async -> ConflictResolution)
}

/// Where a pending mutation stands.
public enum MutationState: Sendable, Hashable, Codable {
    /// Waiting to be sent.
    case pending
    /// Sent at least once without a known outcome; it is replayed with the same idempotency key.
    case sending
    /// The server applied it (it has left the outbox).
    case applied
    /// Refused with a stale etag and resolved in the server's favour; kept for inspection.
    case conflicted(SyncConflict)
    /// Refused by the server for good (validation, permission); kept until retried or discarded.
    case failed(ClassyClientError)
    /// The app dropped it.
    case discarded
}

/// A mutation in the outbox.
public struct PendingMutation: Sendable, Hashable, Identifiable {
    /// Its place in the replay order.
    public var id: Int64
    /// Sent as `idempotency-key`: the server applies a key once and replays its first response.
    public var idempotencyKey: String
    public var operation: MutationOperation
    public var state: MutationState
    /// How many times it was sent.
    public var attempts: Int
    public var createTime: Date
}

/// The outcome of a mutation that goes through the outbox.
public enum MutationOutcome<Value: Sendable>: Sendable {
    /// The server applied it.
    case applied(Value)
    /// The server could not be reached; it is in the outbox and will be replayed.
    case queued(PendingMutation)
    /// The server had a newer version and the conflict policy kept it.
    case conflicted(SyncConflict)

    /// The applied value, if any.
    public var value: Value? {
        if case .applied(let value) = self { return value }
        return nil
    }
}

/// How a replay went.
public struct SyncReport: Sendable, Hashable {
    /// Mutations the server applied.
    public var applied = 0
    /// Mutations refused for good.
    public var failed = 0
    /// Conflicts kept in the server's favour.
    public var conflicted = 0
    /// The replay stopped because the server could not be reached (the rest stays pending).
    public var offline = false
}

/// The outbox of the signed-in account: list, observe, retry and discard pending mutations.
public struct Outbox: Sendable {
    let client: ClassyClient

    /// Every mutation not yet applied, in replay order.
    public func pending() async throws -> [PendingMutation] {
        try await OutboxTable.all(in: client.requireCache())
    }

    /// Each change of state of a mutation (including `.applied` and `.discarded` as they leave).
    public func updates() -> AsyncStream<PendingMutation> {
        client.sync.updates.stream(replayLatest: false)
    }

    /// Sends what is pending now, in order.
    @discardableResult
    public func replay() async throws -> SyncReport {
        try await client.sync.replay(client: client)
    }

    /// Puts a failed or conflicted mutation back in line (with a new idempotency key) and replays.
    public func retry(id: Int64) async throws {
        let cache = try await client.requireCache()
        try await client.sync.retry(id: id, cache: cache)
        client.wakeSync()
    }

    /// Drops a mutation that is not being sent right now.
    public func discard(id: Int64) async throws {
        let cache = try await client.requireCache()
        try await client.sync.discard(id: id, cache: cache)
    }
}

/// The outbox rows of one cache file.
enum OutboxTable {
    static func insert(_ operation: MutationOperation, in cache: OfflineCache, now: Date) throws -> PendingMutation {
        let key = UUID().uuidString.lowercased()
        let operationData = try OfflineCache.encoder.encode(operation)
        let stateData = try OfflineCache.encoder.encode(MutationState.pending)
        let id = try cache.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO outbox (idempotency_key, operation, state, attempts, create_time, update_time)
                    VALUES (?, ?, ?, 0, ?, ?)
                    """,
                arguments: [key, operationData, stateData, now.timeIntervalSince1970, now.timeIntervalSince1970]
            )
            return db.lastInsertedRowID
        }
        return PendingMutation(
            id: id, idempotencyKey: key, operation: operation, state: .pending, attempts: 0, createTime: now
        )
    }

    static func all(in cache: OfflineCache) throws -> [PendingMutation] {
        try cache.database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY id") }.map(decode)
    }

    static func get(_ id: Int64, in cache: OfflineCache) throws -> PendingMutation? {
        try cache.database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id])
        }.map(decode)
    }

    /// The first mutation to send: pending or sending, in order, after `id`.
    static func next(after id: Int64, in cache: OfflineCache) throws -> PendingMutation? {
        try cache.database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE id > ? ORDER BY id", arguments: [id])
        }.lazy.map(decode).first {
            switch $0.state {
            case .pending, .sending: true
            default: false
            }
        }
    }

    static func update(_ mutation: PendingMutation, in cache: OfflineCache, now: Date) throws {
        let operationData = try OfflineCache.encoder.encode(mutation.operation)
        let stateData = try OfflineCache.encoder.encode(mutation.state)
        try cache.database.write { db in
            try db.execute(
                sql: """
                    UPDATE outbox SET idempotency_key = ?, operation = ?, state = ?, attempts = ?, update_time = ?
                    WHERE id = ?
                    """,
                arguments: [
                    mutation.idempotencyKey, operationData, stateData, mutation.attempts, now.timeIntervalSince1970,
                    mutation.id,
                ]
            )
        }
    }

    static func delete(_ id: Int64, in cache: OfflineCache) throws {
        try cache.database.write { db in try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id]) }
    }

    private static func decode(_ row: Row) throws -> PendingMutation {
        PendingMutation(
            id: row["id"], idempotencyKey: row["idempotency_key"],
            operation: try OfflineCache.decoder.decode(MutationOperation.self, from: row["operation"] as Data),
            state: try OfflineCache.decoder.decode(MutationState.self, from: row["state"] as Data),
            attempts: row["attempts"],
            createTime: Date(timeIntervalSince1970: row["create_time"] as Double)
        )
    }
}
