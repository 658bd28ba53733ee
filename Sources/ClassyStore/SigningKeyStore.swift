import Foundation

/// Token-signing key pairs, which survive restarts and rotate.
public protocol SigningKeyStore: Sendable {
    /// Stores a new key; ``StoreError/Code/conflict`` if the id is in use.
    func insertSigningKey(_ key: SigningKeyRecord) async throws

    /// Returns every key, oldest first.
    func signingKeys() async throws -> [SigningKeyRecord]

    /// Returns the keys whose public key is published at `now`, oldest first.
    func publishedSigningKeys(now: Date) async throws -> [SigningKeyRecord]

    /// Sets when a key stops signing and when its public key stops being published; `nil` if unknown.
    func retireSigningKey(id: String, retireTime: Date, expireTime: Date?) async throws -> SigningKeyRecord?
}
