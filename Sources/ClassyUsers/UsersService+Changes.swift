import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore

extension UsersService {
    /// ListUserChanges: the latest state of every user changed after the cursor, in change order.
    ///
    /// Admins and services page through every user; a user sees only their own record.
    public func listUserChanges(
        request: Classy_Users_V1_ListUserChangesRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_ListUserChangesResponse {
        let caller = try RequestContext.requireCaller()
        var check = FieldValidator()
        let pageSize = check.pageSize(request.pageSize)
        try check.finish()
        let since = try UserChangeCursor(validating: request.sinceCursor)
        if caller.role.isAdmin || caller.isService {
            return try await allChanges(after: since, pageSize: pageSize)
        }
        return try await ownChanges(of: caller.userID, after: since)
    }

    private func allChanges(
        after since: UserChangeCursor,
        pageSize: Int
    ) async throws -> Classy_Users_V1_ListUserChangesResponse {
        let records = try await store.userChanges(after: since.sequence, limit: pageSize + 1)
        let page = records.prefix(pageSize)
        return .with {
            $0.changes = page.map(Self.change)
            $0.nextCursor = UserChangeCursor(sequence: page.last?.changeSequence ?? since.sequence).text
            $0.hasMore_p = records.count > pageSize
        }
    }

    /// A user's own feed: their record if it changed after the cursor. The next cursor moves to the
    /// global sequence read *before* the record, so a change committed in between (which takes a
    /// higher sequence) is either in the record returned or after the next cursor: never lost.
    private func ownChanges(
        of userID: String,
        after since: UserChangeCursor
    ) async throws -> Classy_Users_V1_ListUserChangesResponse {
        let latest = try await store.latestUserChangeSequence()
        let user = try await store.user(id: userID)
        var next = max(since.sequence, latest)
        var changes: [Classy_Users_V1_UserChange] = []
        if let user, user.changeSequence > since.sequence {
            changes.append(Self.change(user))
            next = max(next, user.changeSequence)
        }
        return .with {
            $0.changes = changes
            $0.nextCursor = UserChangeCursor(sequence: next).text
            $0.hasMore_p = false
        }
    }

    /// A change entry: a full snapshot, or a tombstone (id, deleted, update time, etag) for a deleted user.
    private static func change(_ user: UserRecord) -> Classy_Users_V1_UserChange {
        .with {
            if user.deleted {
                // A tombstone names the user and when it went, not what it held.
                let updateTime = user.api.updateTime
                $0.user = .with {
                    $0.id = user.id
                    $0.deleted = true
                    $0.updateTime = updateTime
                    $0.etag = user.etag
                }
            } else {
                $0.user = user.api
            }
            $0.deleted = user.deleted
            $0.cursor = UserChangeCursor(sequence: user.changeSequence).text
        }
    }
}
