import ClassyAuth
import ClassyCore
import Foundation
import Testing

@Suite("JWKS document")
struct JWKSDocumentTests {
    @Test("the JWKS parses and publishes each raw public key as an OKP Ed25519 JWK")
    func document() throws {
        let now = Date()
        let first = TokenService.generateKeyMaterial(keyID: "key-1", now: now)
        let second = TokenService.generateKeyMaterial(keyID: "key-2", now: now)
        let json = JWKSDocument.json(for: [first, second])

        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let keys = try #require(object["keys"] as? [[String: String]])
        #expect(keys.count == 2)
        for (jwk, material) in zip(keys, [first, second]) {
            #expect(
                jwk == [
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": material.keyID, "x": base64URL(material.publicKey),
                ])
            #expect(fromBase64URL(try #require(jwk["x"])) == material.publicKey)
            #expect(try #require(jwk["x"]).count == 43)
        }
        #expect(!json.contains(base64URL(first.privateKey)))
        #expect(json.hasPrefix(#"{"keys":[{"alg":"EdDSA","crv":"Ed25519","kid":"key-1","kty":"OKP","use":"sig","x":""#))
        #expect(JWKSDocument.json(for: []) == #"{"keys":[]}"#)
    }
}
