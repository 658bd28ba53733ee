internal import ClassyAPI
import Foundation
internal import GRPCCore
internal import SwiftProtobuf

/// What an applied mutation returned.
enum MutationResult: Sendable {
    case user(User)
    case count(Int)
    case blockedIP(BlockedIP)
    case none
}

/// Replays the outbox in order, one replay at a time.
///
/// Crash safety: a mutation is in the cache file with its idempotency key before it is first sent, and
/// is marked `sending` (persisted, fsynced) before every attempt; it leaves the outbox only after the
/// server answered. A process killed in between resends it with the same key on the next replay, and
/// the server answers with the stored first response instead of applying it again.
actor SyncEngine {
    private let policy: ConflictPolicy
    private let hooks: ClientHooks
    let updates = Broadcaster<PendingMutation>()
    private var running: Task<SyncReport, any Error>?
    private var inFlight: Int64?
    /// Mutations whose caller waits in ``submit(_:client:)`` for the outcome.
    private var awaited: Set<Int64> = []
    private var results: [Int64: MutationResult] = [:]
    private var conflicts: [Int64: SyncConflict] = [:]

    /// Conflicts resolved for the client this many times in one replay are left to the server.
    private static let maxRebases = 3

    init(policy: ConflictPolicy, hooks: ClientHooks) {
        self.policy = policy
        self.hooks = hooks
    }

    /// Puts `operation` in the outbox and tries to send everything pending up to it.
    func submit(_ operation: MutationOperation, client: ClassyClient) async throws -> MutationOutcome<MutationResult> {
        let cache = try await client.requireCache()
        let mutation = try OutboxTable.insert(operation, in: cache, now: client.configuration.now())
        updates.publish(mutation)
        awaited.insert(mutation.id)
        defer {
            awaited.remove(mutation.id)
            results[mutation.id] = nil
            conflicts[mutation.id] = nil
        }
        for _ in 0..<3 {
            let report = try await replay(client: client)
            if let result = results.removeValue(forKey: mutation.id) { return .applied(result) }
            if let conflict = conflicts.removeValue(forKey: mutation.id) { return .conflicted(conflict) }
            guard let current = try OutboxTable.get(mutation.id, in: cache) else { return .applied(.none) }
            switch current.state {
            case .failed(let error):
                // Refused at once: the caller gets the error; nothing is left behind in the outbox.
                try OutboxTable.delete(mutation.id, in: cache)
                throw error
            case .pending, .sending:
                if report.offline { return .queued(current) }
            default:
                return .queued(current)
            }
        }
        return .queued(try OutboxTable.get(mutation.id, in: cache) ?? mutation)
    }

    /// Runs a replay, or joins the one running.
    func replay(client: ClassyClient) async throws -> SyncReport {
        if let running { return try await running.value }
        let task = Task { try await self.run(client: client) }
        running = task
        defer { running = nil }
        return try await task.value
    }

    func retry(id: Int64, cache: OfflineCache) throws {
        guard var mutation = try OutboxTable.get(id, in: cache) else {
            throw ClassyClientError(
                status: .notFound, reason: ClassyClientError.Reason.notFound, message: "no mutation \(id)")
        }
        guard inFlight != id else { return }
        mutation.state = .pending
        mutation.idempotencyKey = UUID().uuidString.lowercased()
        try OutboxTable.update(mutation, in: cache, now: Date())
        updates.publish(mutation)
    }

    func discard(id: Int64, cache: OfflineCache) throws {
        guard inFlight != id else {
            throw ClassyClientError(
                status: .failedPrecondition, reason: "MUTATION_IN_FLIGHT", message: "mutation \(id) is being sent"
            )
        }
        guard var mutation = try OutboxTable.get(id, in: cache) else { return }
        try OutboxTable.delete(id, in: cache)
        mutation.state = .discarded
        updates.publish(mutation)
    }

    private func run(client: ClassyClient) async throws -> SyncReport {
        let cache = try await client.requireCache()
        var report = SyncReport()
        var position: Int64 = 0
        var rebases: [Int64: Int] = [:]
        defer { inFlight = nil }
        while var mutation = try OutboxTable.next(after: position, in: cache) {
            try Task.checkCancellation()
            mutation.state = .sending
            mutation.attempts += 1
            try OutboxTable.update(mutation, in: cache, now: client.configuration.now())
            inFlight = mutation.id
            updates.publish(mutation)
            let result: MutationResult
            do {
                result = try await Self.send(mutation, client: client)
            } catch let error as ClassyClientError {
                if error.isTransient {
                    report.offline = true
                    return report
                }
                if error.status == .unauthenticated { throw error }
                if error.reason == ClassyClientError.Reason.etagMismatch {
                    let settled = try await resolveConflict(
                        &mutation, client: client, cache: cache, rebases: &rebases
                    )
                    if settled {
                        report.conflicted += 1
                        position = mutation.id
                    }
                    continue
                }
                mutation.state = .failed(error)
                try OutboxTable.update(mutation, in: cache, now: client.configuration.now())
                updates.publish(mutation)
                report.failed += 1
                position = mutation.id
                continue
            }
            try await hooks.afterMutationSent?(mutation.idempotencyKey)
            try? await Self.applyToCache(result, of: mutation.operation, client: client, cache: cache)
            try OutboxTable.delete(mutation.id, in: cache)
            if awaited.contains(mutation.id) { results[mutation.id] = result }
            mutation.state = .applied
            updates.publish(mutation)
            report.applied += 1
            position = mutation.id
        }
        return report
    }

    /// Applies the conflict policy. Returns true when the conflict was settled in the server's favour,
    /// false when the mutation was rebased on the server's version (and goes out again with a new key).
    private func resolveConflict(
        _ mutation: inout PendingMutation, client: ClassyClient, cache: OfflineCache, rebases: inout [Int64: Int]
    ) async throws -> Bool {
        let server = try await Self.serverVersion(of: mutation.operation, client: client)
        let conflict = SyncConflict(
            operation: mutation.operation, local: server.map { Self.applying(mutation.operation, to: $0) },
            server: server
        )
        let resolution: ConflictResolution
        switch policy {
        case .serverWins: resolution = .keepServer
        case .clientWins: resolution = .applyLocal
        case .custom(let decide): resolution = await decide(conflict)
        }
        rebases[mutation.id, default: 0] += 1
        if let server, resolution != .keepServer, rebases[mutation.id]! <= Self.maxRebases {
            mutation.operation = Self.rebasing(mutation.operation, on: server, resolution: resolution)
            // A new key for the new request, persisted before it is sent.
            mutation.idempotencyKey = UUID().uuidString.lowercased()
            mutation.state = .pending
            try OutboxTable.update(mutation, in: cache, now: client.configuration.now())
            updates.publish(mutation)
            return false
        }
        if let server {
            try? await Self.applyToCache(.user(server), of: mutation.operation, client: client, cache: cache)
        }
        mutation.state = .conflicted(conflict)
        try OutboxTable.update(mutation, in: cache, now: client.configuration.now())
        if awaited.contains(mutation.id) { conflicts[mutation.id] = conflict }
        updates.publish(mutation)
        return true
    }

    // MARK: the RPCs

    private static func send(_ mutation: PendingMutation, client: ClassyClient) async throws -> MutationResult {
        let options = client.unaryOptions
        let key = mutation.idempotencyKey
        switch mutation.operation {
        case .updateMe(let firstName, let lastName, let etag):
            var paths: [String] = []
            if firstName != nil { paths.append("first_name") }
            if lastName != nil { paths.append("last_name") }
            let request = Classy_Users_V1_UpdateMeRequest.with {
                $0.user.firstName = firstName ?? ""
                $0.user.lastName = lastName ?? ""
                $0.user.etag = etag
                $0.updateMask = Google_Protobuf_FieldMask(protoPaths: paths)
            }
            let response = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.users_.updateMe(request, metadata: metadata, options: options)
            }
            return .user(User(response.user))
        case .markNotificationsRead(let ids, let all):
            let response = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.users_.markNotificationsRead(
                    .with {
                        $0.notificationIds = ids
                        $0.all = all
                    },
                    metadata: metadata, options: options
                )
            }
            return .count(Int(response.updatedCount))
        case .createUser(let user):
            let response = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.users_.createUser(
                    .with {
                        $0.email = user.email
                        $0.password = user.password
                        $0.firstName = user.firstName
                        $0.lastName = user.lastName
                        $0.role = user.role.api
                    },
                    metadata: metadata, options: options
                )
            }
            return .user(User(response.user))
        case .updateUser(let userID, let changes, let etag):
            var paths: [String] = []
            if changes.firstName != nil { paths.append("first_name") }
            if changes.lastName != nil { paths.append("last_name") }
            if changes.role != nil { paths.append("role") }
            if changes.isActive != nil { paths.append("is_active") }
            let request = Classy_Users_V1_UpdateUserRequest.with {
                $0.user.id = userID
                $0.user.etag = etag
                $0.user.firstName = changes.firstName ?? ""
                $0.user.lastName = changes.lastName ?? ""
                $0.user.role = changes.role?.api ?? .unspecified
                $0.user.isActive = changes.isActive ?? false
                $0.updateMask = Google_Protobuf_FieldMask(protoPaths: paths)
            }
            let response = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.users_.updateUser(request, metadata: metadata, options: options)
            }
            return .user(User(response.user))
        case .deleteUser(let userID, let etag):
            _ = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.users_.deleteUser(
                    .with {
                        $0.userID = userID
                        $0.etag = etag
                    },
                    metadata: metadata, options: options
                )
            }
            return .none
        case .blockIP(let address, let reason, let seconds):
            let response = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.monitoring_.blockIP(
                    .with {
                        $0.ipAddress = address
                        $0.reason = reason
                        if let seconds { $0.duration = Google_Protobuf_Duration(seconds: seconds) }
                    },
                    metadata: metadata, options: options
                )
            }
            return .blockedIP(BlockedIP(response.blockedIp))
        case .unblockIP(let address, let reason):
            _ = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.monitoring_.unblockIP(
                    .with {
                        $0.ipAddress = address
                        $0.reason = reason
                    },
                    metadata: metadata, options: options
                )
            }
            return .none
        case .unlockAccount(let email):
            _ = try await client.authorized(idempotencyKey: key) { metadata in
                try await client.monitoring_.unlockAccount(
                    .with { $0.email = email }, metadata: metadata, options: options)
            }
            return .none
        }
    }

    /// The server's current version of the record a mutation targets (nil when it is gone).
    private static func serverVersion(of operation: MutationOperation, client: ClassyClient) async throws -> User? {
        let options = client.unaryOptions
        switch operation {
        case .updateMe:
            return User(
                try await client.authorized { metadata in
                    try await client.users_.getMe(.init(), metadata: metadata, options: options)
                }.user
            )
        case .updateUser(let userID, _, _), .deleteUser(let userID, _):
            do {
                return User(
                    try await client.authorized { metadata in
                        try await client.users_.getUser(
                            .with { $0.userID = userID }, metadata: metadata, options: options)
                    }.user
                )
            } catch let error as ClassyClientError where error.reason == ClassyClientError.Reason.notFound {
                return nil
            }
        default:
            return nil
        }
    }

    /// The record as it would be with the mutation applied.
    static func applying(_ operation: MutationOperation, to user: User) -> User {
        var user = user
        switch operation {
        case .updateMe(let firstName, let lastName, _):
            if let firstName { user.firstName = firstName }
            if let lastName { user.lastName = lastName }
        case .updateUser(_, let changes, _):
            if let firstName = changes.firstName { user.firstName = firstName }
            if let lastName = changes.lastName { user.lastName = lastName }
            if let role = changes.role { user.role = role }
            if let active = changes.isActive { user.isActive = active }
        case .deleteUser:
            user.deleted = true
        default:
            break
        }
        return user
    }

    /// The mutation re-aimed at the server's version.
    static func rebasing(
        _ operation: MutationOperation, on server: User, resolution: ConflictResolution
    ) -> MutationOperation {
        switch (operation, resolution) {
        case (.updateMe, .apply(let merged)):
            return .updateMe(firstName: merged.firstName, lastName: merged.lastName, etag: server.etag)
        case (.updateMe(let firstName, let lastName, _), _):
            return .updateMe(firstName: firstName, lastName: lastName, etag: server.etag)
        case (.updateUser(let id, _, _), .apply(let merged)):
            return .updateUser(userID: id, changes: merged, etag: server.etag)
        case (.updateUser(let id, let changes, _), _):
            return .updateUser(userID: id, changes: changes, etag: server.etag)
        case (.deleteUser(let id, _), _):
            return .deleteUser(userID: id, etag: server.etag)
        default:
            return operation
        }
    }

    /// Brings the cache in line with what the server applied.
    private static func applyToCache(
        _ result: MutationResult, of operation: MutationOperation, client: ClassyClient, cache: OfflineCache
    ) async throws {
        let now = client.configuration.now()
        let me = await client.credentials.account?.userID
        switch (operation, result) {
        case (.markNotificationsRead(let ids, let all), _):
            try cache.markNotificationsRead(all ? nil : ids)
        case (.deleteUser(let id, _), .none):
            try cache.deleteUser(id: id)
        case (_, .user(let user)):
            if user.id == me { try cache.put(user, at: OfflineCache.Key.me, fetched: now) }
            if case .updateMe = operation { return }
            try cache.saveUsers([user])
        default:
            break
        }
    }
}
