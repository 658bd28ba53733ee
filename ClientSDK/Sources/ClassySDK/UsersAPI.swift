internal import ClassyAPI
import Foundation
internal import GRPCCore

/// The signed-in user's profile, the user directory, and admin user management.
public struct UsersAPI: Sendable {
    let client: ClassyClient

    /// The signed-in user (cached for offline reads).
    public func me() async throws -> Cached<User> {
        try await client.cached(key: OfflineCache.Key.me) {
            User(
                try await client.authorized { metadata in
                    try await client.users_.getMe(.init(), metadata: metadata, options: client.unaryOptions)
                }.user
            )
        }
    }

    /// Changes the signed-in user's names through the outbox: applied now when the server answers,
    /// queued (and replayed later) when it cannot be reached.
    ///
    /// - Parameter etag: the profile version the change is made on; the cached profile's by default.
    public func updateMe(
        firstName: String? = nil, lastName: String? = nil, etag: String? = nil
    ) async throws
        -> MutationOutcome<User>
    {
        guard firstName != nil || lastName != nil else {
            throw ClassyClientError.invalidField("update_mask", "name at least one field to change")
        }
        let base: String
        if let etag {
            base = etag
        } else {
            base = try await me().value.etag
        }
        return try await submitForUser(.updateMe(firstName: firstName, lastName: lastName, etag: base))
    }

    /// One page of users from the server (admins and services), newest first by default.
    public func list(_ query: UserQuery = UserQuery()) async throws -> UserPage {
        let request = Classy_Users_V1_ListUsersRequest.with {
            $0.pageSize = Int32(clamping: query.pageSize ?? 0)
            $0.pageToken = query.pageToken ?? ""
            $0.query = query.text ?? ""
            if let role = query.role { $0.role = role.api }
            if let active = query.active { $0.activeFilter = active }
            $0.orderBy = query.orderBy ?? ""
            $0.showDeleted = query.showDeleted
        }
        let response = try await client.authorized { metadata in
            try await client.users_.listUsers(request, metadata: metadata, options: client.unaryOptions)
        }
        let users = response.users.map(User.init)
        try? await client.cache()?.saveUsers(users)
        return UserPage(
            users: users, nextPageToken: response.nextPageToken.isEmpty ? nil : response.nextPageToken,
            totalSize: Int(response.totalSize)
        )
    }

    /// One user (cached for offline reads).
    public func get(id: String) async throws -> Cached<User> {
        let now = client.configuration.now()
        do {
            let user = User(
                try await client.authorized { metadata in
                    try await client.users_.getUser(
                        .with { $0.userID = id }, metadata: metadata, options: client.unaryOptions)
                }.user
            )
            try? await client.cache()?.saveUsers([user])
            return Cached(value: user, fetchedTime: now, isStale: false)
        } catch let error as ClassyClientError where error.isOffline {
            if let cache = try await client.cache(), let user = try cache.user(id: id) {
                let fetched = try cache.get(String.self, at: OfflineCache.Key.directoryCursor)?.fetched ?? .distantPast
                return Cached(value: user, fetchedTime: fetched, isStale: true)
            }
            throw error
        }
    }

    /// Pulls every user change since the cache's cursor (ListUserChanges) into the directory cache;
    /// returns how many changes it applied.
    @discardableResult
    public func refreshDirectory() async throws -> Int {
        guard let cache = try await client.cache() else { return 0 }
        var cursor = try cache.get(String.self, at: OfflineCache.Key.directoryCursor)?.value ?? ""
        var applied = 0
        while true {
            let since = cursor
            let response = try await client.authorized { metadata in
                try await client.users_.listUserChanges(
                    .with {
                        $0.sinceCursor = since
                        $0.pageSize = 500
                    },
                    metadata: metadata, options: client.unaryOptions
                )
            }
            let users = response.changes.map { change in
                var user = User(change.user)
                user.deleted = user.deleted || change.deleted
                return user
            }
            if !response.nextCursor.isEmpty { cursor = response.nextCursor }
            try cache.applyUserChanges(users, cursor: cursor, now: client.configuration.now())
            applied += users.count
            if !response.hasMore_p || response.changes.isEmpty { break }
        }
        return applied
    }

    /// The user directory from the cache, brought up to date first when the server answers
    /// (admins see every user; others see themselves). `matching` filters by email or name.
    public func directory(matching text: String? = nil) async throws -> Cached<[User]> {
        guard let cache = try await client.cache() else {
            throw ClassyClientError(status: .failedPrecondition, reason: "NO_CACHE", message: "caching is off")
        }
        do {
            try await refreshDirectory()
            return Cached(
                value: try cache.users(matching: text), fetchedTime: client.configuration.now(), isStale: false)
        } catch let error as ClassyClientError where error.isOffline {
            guard let fetched = try cache.get(String.self, at: OfflineCache.Key.directoryCursor)?.fetched else {
                throw error
            }
            return Cached(value: try cache.users(matching: text), fetchedTime: fetched, isStale: true)
        }
    }

    /// Creates an account (admins: USER; super admins: any role), through the outbox.
    public func create(_ user: NewUser) async throws -> MutationOutcome<User> {
        try await submitForUser(.createUser(user))
    }

    /// Changes an account at version `etag`, through the outbox.
    public func update(id: String, _ changes: UserUpdate, etag: String) async throws -> MutationOutcome<User> {
        guard !changes.isEmpty else {
            throw ClassyClientError.invalidField("update_mask", "name at least one field to change")
        }
        return try await submitForUser(.updateUser(userID: id, changes: changes, etag: etag))
    }

    /// Deletes an account at version `etag` (its sessions end), through the outbox.
    public func delete(id: String, etag: String) async throws -> MutationOutcome<Void> {
        switch try await client.sync.submit(.deleteUser(userID: id, etag: etag), client: client) {
        case .applied: return .applied(())
        case .queued(let pending): return .queued(pending)
        case .conflicted(let conflict): return .conflicted(conflict)
        }
    }

    private func submitForUser(_ operation: MutationOperation) async throws -> MutationOutcome<User> {
        switch try await client.sync.submit(operation, client: client) {
        case .applied(.user(let user)): return .applied(user)
        case .applied:
            throw ClassyClientError(status: .internalError, reason: "CLIENT", message: "no user in the answer")
        case .queued(let pending): return .queued(pending)
        case .conflicted(let conflict): return .conflicted(conflict)
        }
    }
}
