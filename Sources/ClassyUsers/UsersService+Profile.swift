import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore

extension UsersService {
    /// GetMe: the caller's own account.
    public func getMe(
        request: Classy_Users_V1_GetMeRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_GetMeResponse {
        let caller = try RequestContext.requireCaller()
        // Authentication read the account (active, not deleted) moments ago in this RPC: reuse it.
        if let user = RequestContext.current?.account as? UserRecord, user.id == caller.userID {
            return .with { $0.user = user.api }
        }
        guard let user = try await store.user(id: caller.userID), !user.deleted else {
            throw ClassyError(.notFound, "the caller's account no longer exists")
        }
        return .with { $0.user = user.api }
    }

    /// UpdateMe: the caller's names at their current etag; notifies the caller's other sessions.
    public func updateMe(
        request: Classy_Users_V1_UpdateMeRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_UpdateMeResponse {
        let caller = try RequestContext.requireCaller()
        let update = try ProfileUpdate(validating: request, callerID: caller.userID)
        let now = clock.now()
        // The store compares the etag inside the write transaction: of concurrent updates at one etag,
        // exactly one commits and the others fail with ETAG_MISMATCH.
        let mutation = try await store.updateUser(
            id: caller.userID,
            ifETag: update.etag,
            changes: update.changes,
            revokingSessions: nil,
            effects: UserEffects.profileUpdatedByOwner(caller, changes: update.changes, now: now),
            now: now
        )
        return .with { $0.user = mutation.user.api }
    }
}
