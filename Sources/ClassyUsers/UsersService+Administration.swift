import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore

extension UsersService {
    /// ListUsers: keyset pages (stable under concurrent inserts and deletes) with the total count.
    public func listUsers(
        request: Classy_Users_V1_ListUsersRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_ListUsersResponse {
        let listing = try UserListing(validating: request)
        let page = try await store.listUsers(listing.query)
        let users = page.users.prefix(listing.pageSize)
        return .with {
            $0.users = users.map(\.api)
            if page.users.count > listing.pageSize, let last = users.last {
                $0.nextPageToken = listing.token(after: last)
            }
            $0.totalSize = Int32(clamping: page.totalCount)
        }
    }

    /// GetUser: one account that is not deleted.
    public func getUser(
        request: Classy_Users_V1_GetUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_GetUserResponse {
        let lookup = try UserLookup(validating: request)
        let user = try await liveUser(id: lookup.userID)
        return .with { $0.user = user.api }
    }

    /// CreateUser: an account of a role the caller manages, audited in the same transaction.
    public func createUser(
        request: Classy_Users_V1_CreateUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_CreateUserResponse {
        let caller = try RequestContext.requireCaller()
        let creation = try UserCreation(validating: request)
        // Before hashing: a refused request should not cost an Argon2id hash.
        try UserManagementPolicy.checkCreate(actor: caller.role, role: creation.role)
        let newUser = NewUser(
            email: creation.email,
            passwordHash: try await passwordHasher.hash(creation.password),
            firstName: creation.firstName,
            lastName: creation.lastName,
            role: creation.role,
            createTime: clock.now()
        )
        let user = try await store.createUser(
            newUser,
            effects: UserEffects.created(newUser, by: caller, from: Self.clientIP)
        )
        logger.info("user created", metadata: ["user_id": "\(user.id)", "role": "\(user.role.claim)"])
        return .with { $0.user = user.api }
    }

    /// UpdateUser: names, role and active flag of an account the caller manages, at its current etag.
    ///
    /// Deactivation revokes every session of the user in the same transaction; a role change applies
    /// on the user's next RPC because authentication reads the current role from the store.
    public func updateUser(
        request: Classy_Users_V1_UpdateUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_UpdateUserResponse {
        let caller = try RequestContext.requireCaller()
        let update = try AdministrativeUpdate(validating: request)
        let target = try await liveUser(id: update.userID, etag: update.etag)
        try UserManagementPolicy.checkUpdate(
            actor: caller.role,
            target: .init(role: target.role, isPrimaryAdmin: target.isPrimaryAdmin),
            change: update.policyChange
        )
        let now = clock.now()
        let deactivates = update.changes.isActive == false && target.isActive
        // The etag guard makes the policy decision race-free: the store refuses the write if the target
        // changed (a promotion, say) since it was read above.
        let mutation = try await store.updateUser(
            id: target.id,
            ifETag: target.etag,
            changes: update.changes,
            revokingSessions: deactivates ? .all(reason: "account_deactivated") : nil,
            effects: UserEffects.updated(target, with: update.changes, by: caller, from: Self.clientIP, now: now),
            now: now
        )
        logger.info(
            "user updated",
            metadata: ["user_id": "\(target.id)", "revoked_sessions": "\(mutation.revokedSessionIDs.count)"]
        )
        return .with { $0.user = mutation.user.api }
    }

    /// DeleteUser: soft-deletes an account the caller manages at its current etag, revoking its sessions.
    public func deleteUser(
        request: Classy_Users_V1_DeleteUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_DeleteUserResponse {
        let caller = try RequestContext.requireCaller()
        let deletion = try UserDeletion(validating: request)
        let target = try await liveUser(id: deletion.userID, etag: deletion.etag)
        try UserManagementPolicy.checkDelete(
            actor: caller.role,
            target: .init(role: target.role, isPrimaryAdmin: target.isPrimaryAdmin)
        )
        let now = clock.now()
        let mutation = try await store.deleteUser(
            id: target.id,
            ifETag: target.etag,
            effects: UserEffects.deleted(target, by: caller, from: Self.clientIP, now: now),
            now: now
        )
        logger.info(
            "user deleted",
            metadata: ["user_id": "\(target.id)", "revoked_sessions": "\(mutation.revokedSessionIDs.count)"]
        )
        return .init()
    }

    /// The non-deleted user with `id` (NOT_FOUND otherwise), optionally at `etag` (ETAG_MISMATCH otherwise).
    func liveUser(id: String, etag: String? = nil) async throws -> UserRecord {
        guard let user = try await store.user(id: id), !user.deleted else {
            throw ClassyError(.notFound, "user \(id) not found")
        }
        if let etag, etag != user.etag {
            throw ClassyError(.etagMismatch, "user \(id) changed since it was read: read it again")
        }
        return user
    }

    /// The client IP of the current RPC, for audit entries.
    static var clientIP: String { RequestContext.current?.clientIP ?? "" }
}
