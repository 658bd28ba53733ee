import ClassyAPI
import ClassyCore
import Crypto
import Foundation
import SwiftProtobuf

/// A freshly issued access + refresh token pair for one session.
struct TokenPair: Sendable {
    /// The wire form returned to the client.
    var api: Classy_Auth_V1_Tokens
    /// The refresh token's hash, the only form the store keeps.
    var refreshHash: String
    /// The access token's `jti`.
    var accessTokenID: String

    /// Signs an access token and draws a refresh token for a session.
    init(tokens: TokenService, userID: String, sessionID: String, role: Role, sessionExpireTime: Date) throws {
        let (accessToken, claims) = try tokens.issueAccessToken(userID: userID, sessionID: sessionID, role: role)
        let refreshToken = OpaqueToken.generate()
        refreshHash = OpaqueToken.hash(refreshToken)
        accessTokenID = claims.tokenID
        api = .with {
            $0.accessToken = accessToken
            $0.accessTokenExpireTime = Google_Protobuf_Timestamp(date: claims.expiresAt)
            $0.refreshToken = refreshToken
            $0.refreshTokenExpireTime = Google_Protobuf_Timestamp(date: sessionExpireTime)
            $0.sessionID = sessionID
            $0.tokenType = "Bearer"
        }
    }
}

/// Seals the pair a refresh issued so that a repeat of the same (now previous) refresh token within
/// the grace window gets the same pair back, while the store never holds a usable token: the key is
/// derived from the presented refresh token, which only its holder has.
enum RefreshReplay {
    /// Encrypts `tokens` under a key derived from `presentedToken`.
    static func seal(_ tokens: Classy_Auth_V1_Tokens, presentedToken: String) throws -> Data {
        let plaintext: Data = try tokens.serializedBytes()
        let box = try AES.GCM.seal(plaintext, using: key(presentedToken))
        guard let combined = box.combined else { throw ClassyError(.internal, "cannot seal token pair") }
        return combined
    }

    /// Decrypts a sealed pair with the presented token; nil if it does not open.
    static func open(_ sealed: Data, presentedToken: String) -> Classy_Auth_V1_Tokens? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plaintext = try? AES.GCM.open(box, using: key(presentedToken))
        else { return nil }
        return try? Classy_Auth_V1_Tokens(serializedBytes: plaintext)
    }

    private static func key(_ token: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(token.utf8)),
            info: Data("classy refresh replay v1".utf8),
            outputByteCount: 32
        )
    }
}
