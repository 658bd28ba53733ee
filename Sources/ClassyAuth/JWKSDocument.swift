import ClassyCore
import Foundation

/// Builds the JSON Web Key Set (RFC 7517) that publishes the public halves of the signing keys.
public enum JWKSDocument {
    /// One Ed25519 public key as a JWK (RFC 8037).
    struct Key: Codable, Hashable {
        var kty = "OKP"
        var crv = "Ed25519"
        var x: String
        var kid: String
        var alg = "EdDSA"
        var use = "sig"
    }

    /// The document's top-level object.
    struct Document: Codable, Hashable {
        var keys: [Key]
    }

    /// Returns `{"keys":[{"alg":"EdDSA","crv":"Ed25519","kid":...,"kty":"OKP","use":"sig","x":...}]}` with sorted keys.
    ///
    /// Only public keys are written, in the order given.
    public static func json(for keys: [SigningKeyMaterial]) -> String {
        let document = Document(keys: keys.map { Key(x: Base64URL.encode($0.publicKey), kid: $0.keyID) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings into JSON cannot fail.
        let data = (try? encoder.encode(document)) ?? Data(#"{"keys":[]}"#.utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
