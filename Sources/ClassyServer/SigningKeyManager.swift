import ClassyAuth
import ClassyCore
import ClassyStore
import Foundation
import Logging

/// Keeps the token service's keys in step with the store: creates the first key, rotates keys,
/// and keeps retired public keys published until the tokens they signed have expired.
public struct SigningKeyManager: Sendable {
    let store: any ClassyStoreProtocol
    let clock: any WallClock
    /// How long a retired key still verifies: the access-token lifetime plus clock-skew leeway.
    let retiredKeyLifetime: TimeInterval

    public init(store: any ClassyStoreProtocol, clock: any WallClock, accessTokenLifetime: Duration) {
        self.store = store
        self.clock = clock
        self.retiredKeyLifetime = TimeInterval(accessTokenLifetime.components.seconds) + 60
    }

    /// The keys that verify now; creates the first signing key if none can sign.
    public func loadOrCreate(logger: Logger) async throws -> [SigningKeyMaterial] {
        let now = clock.now()
        var keys = try await store.publishedSigningKeys(now: now)
        if !keys.contains(where: { $0.retireTime.map { $0 > now } ?? true }) {
            let key = Self.newKey(now: now)
            try await store.insertSigningKey(key)
            logger.notice("created signing key", metadata: ["kid": "\(key.id)"])
            keys = try await store.publishedSigningKeys(now: now)
        }
        return keys.map(Self.material)
    }

    /// Creates a new signing key and retires every current one; returns the new key id.
    @discardableResult
    public func rotate(logger: Logger) async throws -> String {
        let now = clock.now()
        let key = Self.newKey(now: now)
        try await store.insertSigningKey(key)
        for old in try await store.signingKeys() where old.id != key.id && old.retireTime == nil {
            _ = try await store.retireSigningKey(
                id: old.id,
                retireTime: now,
                expireTime: now.addingTimeInterval(retiredKeyLifetime)
            )
            logger.notice("retired signing key", metadata: ["kid": "\(old.id)"])
        }
        logger.notice("created signing key", metadata: ["kid": "\(key.id)"])
        return key.id
    }

    static func newKey(now: Date) -> SigningKeyRecord {
        let material = TokenService.generateKeyMaterial(keyID: UUID.randomLowercasedString(), now: now)
        return SigningKeyRecord(
            id: material.keyID,
            privateKey: material.privateKey,
            publicKey: material.publicKey,
            createTime: now
        )
    }

    static func material(_ record: SigningKeyRecord) -> SigningKeyMaterial {
        SigningKeyMaterial(
            keyID: record.id,
            privateKey: record.privateKey,
            publicKey: record.publicKey,
            createTime: record.createTime,
            retireTime: record.retireTime
        )
    }
}
