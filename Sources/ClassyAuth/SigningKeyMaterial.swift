import ClassyCore
import Crypto
import Foundation

/// One Ed25519 signing key as plain values, as the store keeps it.
///
/// An empty ``privateKey`` makes a verification-only key: it verifies tokens but never signs.
public struct SigningKeyMaterial: Sendable, Hashable {
    /// The key identifier, written in the `kid` header of every token it signs.
    public var keyID: String
    /// The raw 32-byte Ed25519 private key (seed), or empty for a verification-only key.
    public var privateKey: Data
    /// The raw 32-byte Ed25519 public key.
    public var publicKey: Data
    /// When the key was created; the newest non-retired key signs.
    public var createTime: Date
    /// When the key stopped (or will stop) signing; nil while it may sign.
    public var retireTime: Date?

    /// Creates key material from stored values.
    public init(keyID: String, privateKey: Data, publicKey: Data, createTime: Date, retireTime: Date? = nil) {
        self.keyID = keyID
        self.privateKey = privateKey
        self.publicKey = publicKey
        self.createTime = createTime
        self.retireTime = retireTime
    }

    /// Whether the key may sign at `date`: it has a private key and is not retired by then.
    public func canSign(at date: Date) -> Bool {
        !privateKey.isEmpty && (retireTime.map { date < $0 } ?? true)
    }
}

/// An error in signing key material.
public enum SigningKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The private key of this key ID is not a raw 32-byte Ed25519 key.
    case invalidPrivateKey(keyID: String)
    /// The public key of this key ID is not a raw 32-byte Ed25519 key.
    case invalidPublicKey(keyID: String)
    /// The public key of this key ID does not belong to its private key.
    case mismatchedKeyPair(keyID: String)
    /// The key ID is empty or given twice.
    case invalidKeyID(keyID: String)
    /// No key may sign now: every key is retired or verification-only.
    case noSigningKey

    /// A human-readable description.
    public var description: String {
        switch self {
        case .invalidPrivateKey(let keyID): "signing key \(keyID): invalid Ed25519 private key"
        case .invalidPublicKey(let keyID): "signing key \(keyID): invalid Ed25519 public key"
        case .mismatchedKeyPair(let keyID): "signing key \(keyID): public key does not match private key"
        case .invalidKeyID(let keyID): "signing key ID \"\(keyID)\" is empty or duplicated"
        case .noSigningKey: "no active signing key"
        }
    }
}
