import ClassyCore
import Crypto
import Foundation

/// Opaque random tokens (refresh tokens, service-account secrets) and the hashes stored in their place.
public enum OpaqueToken {
    /// Returns `bytes` random bytes from the system CSPRNG as unpadded base64url (32 bytes: 43 characters).
    public static func generate(bytes: Int = 32) -> String {
        Base64URL.encode(SecureRandom.bytes(bytes))
    }

    /// Returns the lower-case hex SHA-256 of the token's UTF-8 bytes, the value to store and look up.
    public static func hash(_ token: String) -> String {
        let digest = SHA256.hash(data: Data(token.utf8))
        return digest.withUnsafeBytes { Hex.lowercase($0) }
    }

    /// Whether `token` hashes to `storedHash`, compared in constant time.
    public static func matches(_ token: String, hash storedHash: String) -> Bool {
        let computed = Array(hash(token).utf8)
        let stored = Array(storedHash.utf8)
        guard computed.count == stored.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(computed, stored) { difference |= left ^ right }
        return difference == 0
    }
}
