import Foundation

/// A stored token-signing key pair.
public struct SigningKeyRecord: Sendable, Equatable, Hashable {
    /// The key id (the JWT `kid`).
    public var id: String
    /// The JWS algorithm, `EdDSA`.
    public var algorithm: String
    /// The raw 32-byte Ed25519 private key.
    public var privateKey: Data
    /// The raw 32-byte Ed25519 public key.
    public var publicKey: Data
    /// When the key was created.
    public var createTime: Date
    /// From when the key no longer signs.
    public var retireTime: Date?
    /// From when the public key is no longer published (tokens signed with it have expired).
    public var expireTime: Date?

    /// Creates a signing key record.
    public init(
        id: String,
        algorithm: String = "EdDSA",
        privateKey: Data,
        publicKey: Data,
        createTime: Date,
        retireTime: Date? = nil,
        expireTime: Date? = nil
    ) {
        self.id = id
        self.algorithm = algorithm
        self.privateKey = privateKey
        self.publicKey = publicKey
        self.createTime = createTime
        self.retireTime = retireTime
        self.expireTime = expireTime
    }

    /// Whether the key may sign at `now`.
    public func canSign(at now: Date) -> Bool {
        guard let retireTime else { return true }
        return retireTime > now
    }

    /// Whether the public key is published at `now`.
    public func isPublished(at now: Date) -> Bool {
        guard let expireTime else { return true }
        return expireTime > now
    }
}
