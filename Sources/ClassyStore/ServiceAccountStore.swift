import Foundation

/// Service accounts (client-credential machine callers).
public protocol ServiceAccountStore: Sendable {
    /// Creates a service account; ``StoreError/Code/conflict`` if the client id or id is in use.
    func createServiceAccount(
        _ account: ServiceAccountRecord, effects: StoreEffects
    ) async throws
        -> ServiceAccountRecord

    /// Returns the account with `id`, deleted ones included (so their tokens can be refused).
    func serviceAccount(id: String) async throws -> ServiceAccountRecord?

    /// Returns the non-deleted account with `clientID`.
    func serviceAccount(clientID: String) async throws -> ServiceAccountRecord?

    /// Lists non-deleted accounts, newest first, continuing after `after`.
    func listServiceAccounts(after: TimeCursor?, limit: Int) async throws -> [ServiceAccountRecord]

    /// Soft-deletes an account with `effects`; returns `nil` if it does not exist or is already deleted.
    func deleteServiceAccount(id: String, now: Date, effects: StoreEffects) async throws -> ServiceAccountRecord?
}
