import Foundation

/// Users, their etag-guarded updates and the users change feed.
///
/// Every create, update, delete and last-login update takes the next value of one global, monotonic
/// change sequence and stores it on the row, so ``userChanges(after:limit:)`` can page through the latest
/// state of every changed user in change order.
public protocol UserStore: Sendable {
    /// Creates a user; throws ``StoreError/Code/emailTaken`` if a non-deleted user has the email and
    /// ``StoreError/Code/conflict`` for a second primary admin or a reused id.
    func createUser(_ user: NewUser, effects: StoreEffects) async throws -> UserRecord

    /// Returns the user with `id`, soft-deleted ones included.
    func user(id: String) async throws -> UserRecord?

    /// Returns the non-deleted user with `email` (normalised before the lookup).
    func user(email: String) async throws -> UserRecord?

    /// Returns the primary admin, if one was created.
    func primaryAdmin() async throws -> UserRecord?

    /// Counts users, optionally including soft-deleted ones.
    func countUsers(includeDeleted: Bool) async throws -> Int

    /// Applies `changes` if `ifETag` is `nil` or the user's current etag, optionally revoking sessions,
    /// in one transaction with `effects`.
    ///
    /// Throws ``StoreError/Code/notFound`` for unknown or deleted users, ``StoreError/Code/etagMismatch``
    /// for a stale etag and ``StoreError/Code/emailTaken`` for an email in use.
    func updateUser(
        id: String,
        ifETag: String?,
        changes: UserChanges,
        revokingSessions: UserSessionRevocation?,
        effects: StoreEffects,
        now: Date
    ) async throws -> UserMutation

    /// Soft-deletes the user if `ifETag` is `nil` or current, revoking all of their sessions, with `effects`.
    func deleteUser(id: String, ifETag: String?, effects: StoreEffects, now: Date) async throws -> UserMutation

    /// Sets the user's last login time (without changing the etag, which guards editable fields only).
    func recordLastLogin(userID: String, time: Date) async throws

    /// Lists users matching `query`, with the total number of matches.
    func listUsers(_ query: UserQuery) async throws -> UserPage

    /// Returns the latest state of users changed after `sequence`, ordered by change sequence; deleted users
    /// come as tombstones (`deleted == true`).
    func userChanges(after sequence: Int64, limit: Int) async throws -> [UserRecord]

    /// Returns the highest change sequence so far (0 before any change).
    func latestUserChangeSequence() async throws -> Int64
}

extension UserStore {
    /// Applies `changes` without revoking sessions.
    public func updateUser(
        id: String,
        ifETag: String?,
        changes: UserChanges,
        effects: StoreEffects = .none,
        now: Date
    ) async throws -> UserMutation {
        try await updateUser(
            id: id,
            ifETag: ifETag,
            changes: changes,
            revokingSessions: nil,
            effects: effects,
            now: now
        )
    }
}
