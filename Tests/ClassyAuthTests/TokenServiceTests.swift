import ClassyAuth
import ClassyCore
import Crypto
import Foundation
import JWTKit
import Testing

@Suite("Access tokens")
struct TokenServiceTests {
    let clock = FakeClock()
    let key: SigningKeyMaterial
    let service: TokenService

    init() throws {
        key = TokenService.generateKeyMaterial(keyID: "key-1", now: clock.now())
        service = try TokenService(keys: [key], clock: clock)
    }

    @Test("issue then verify returns every claim, in whole seconds, with typ at+jwt and kid headers")
    func roundTrip() throws {
        clock.advance(by: 0.75)
        let (token, issued) = try service.issueAccessToken(userID: "user-1", sessionID: "session-1", role: .admin)
        let verified = try service.verify(token)
        #expect(verified == issued)
        #expect(verified.subject == "user-1")
        #expect(verified.sessionID == "session-1")
        #expect(verified.role == .admin)
        #expect(verified.iss.value == "classy")
        #expect(verified.aud.value == ["classy"])
        #expect(verified.issuedAt.timeIntervalSince1970 == 1_700_000_000)
        #expect(verified.nbf.value == verified.issuedAt)
        #expect(verified.expiresAt.timeIntervalSince(verified.issuedAt) == 900)
        #expect(!verified.tokenID.isEmpty)

        let parts = token.split(separator: ".")
        #expect(parts.count == 3)
        let header = try jsonObject(parts[0])
        #expect(header["alg"] as? String == "EdDSA")
        #expect(header["typ"] as? String == "at+jwt")
        #expect(header["kid"] as? String == "key-1")
        let payload = try jsonObject(parts[1])
        #expect(payload["iat"] as? Int == 1_700_000_000)
        #expect(payload["exp"] as? Int == 1_700_000_900)
        #expect(payload["role"] as? String == "admin")
        #expect(payload["sid"] as? String == "session-1")
        #expect(String(decoding: fromBase64URL(parts[1]) ?? Data(), as: UTF8.self).contains(#""exp":1700000900"#))

        // The second verification is served by the cache and returns the same claims.
        #expect(try service.verify(token) == issued)
    }

    @Test("service tokens have no sid")
    func serviceToken() throws {
        let (token, _) = try service.issueAccessToken(userID: "svc-1", sessionID: nil, role: .service)
        let claims = try service.verify(token)
        #expect(claims.sessionID == nil)
        #expect(claims.role == .service)
        #expect(try jsonObject(token.split(separator: ".")[1])["sid"] == nil)
    }

    @Test("jti is unique per token")
    func uniqueTokenIDs() throws {
        let first = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        let second = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        #expect(first.claims.tokenID != second.claims.tokenID)
        #expect(first.token != second.token)
    }

    @Test("a token past exp is expired, whether or not it was cached")
    func expired() throws {
        let (cachedToken, _) = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        let (freshToken, _) = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        _ = try service.verify(cachedToken)
        clock.advance(by: 899)
        _ = try service.verify(cachedToken)
        clock.advance(by: 1)
        #expect(tokenError { try service.verify(cachedToken) } == .expired)
        #expect(tokenError { try service.verify(cachedToken) } == .expired)
        #expect(tokenError { try service.verify(freshToken) } == .expired)
        clock.advance(by: 3600)
        #expect(tokenError { try service.verify(freshToken) } == .expired)
    }

    @Test("nbf in the future is invalid; within the clock-skew leeway it is accepted")
    func notBefore() throws {
        let now = clock.now()
        let header = #"{"alg":"EdDSA","kid":"key-1","typ":"at+jwt"}"#
        let sign = try ed25519Signer(key)
        let future = try makeJWT(
            header: header, payload: claimsJSON(iat: now, nbf: now.addingTimeInterval(60)), sign: sign)
        #expect(tokenError { try service.verify(future) } == .invalid(reason: "not yet valid"))
        let skewed = try makeJWT(
            header: header, payload: claimsJSON(iat: now, nbf: now.addingTimeInterval(3)), sign: sign)
        #expect(try service.verify(skewed).subject == "user-1")
        let futureIssue = try makeJWT(
            header: header, payload: claimsJSON(iat: now.addingTimeInterval(600), nbf: now), sign: sign
        )
        #expect(isInvalid { try service.verify(futureIssue) })
    }

    @Test("a hand-made token with the right key, claims and headers verifies")
    func handMadeTokenVerifies() throws {
        let token = try makeJWT(
            header: #"{"alg":"EdDSA","kid":"key-1","typ":"at+jwt"}"#,
            payload: claimsJSON(iat: clock.now()), sign: try ed25519Signer(key)
        )
        #expect(try service.verify(token).sessionID == "session-1")
    }

    @Test("alg none is invalid")
    func algNone() throws {
        let payload = claimsJSON(iat: clock.now())
        let unsigned = makeJWT(header: #"{"alg":"none","kid":"key-1","typ":"at+jwt"}"#, payload: payload) { _ in Data()
        }
        #expect(isInvalid { try service.verify(unsigned) })
        let noneButSigned = try makeJWT(
            header: #"{"alg":"none","kid":"key-1","typ":"at+jwt"}"#, payload: payload, sign: try ed25519Signer(key)
        )
        #expect(isInvalid { try service.verify(noneButSigned) })
        let missingAlg = try makeJWT(
            header: #"{"kid":"key-1","typ":"at+jwt"}"#, payload: payload, sign: try ed25519Signer(key)
        )
        #expect(isInvalid { try service.verify(missingAlg) })
    }

    @Test("HS256 signed with the public key bytes as the HMAC secret is invalid")
    func algorithmConfusion() async throws {
        let payload = claimsJSON(iat: clock.now())
        let hmacKey = SymmetricKey(data: key.publicKey)
        let handMade = makeJWT(header: #"{"alg":"HS256","kid":"key-1","typ":"at+jwt"}"#, payload: payload) {
            Data(HMAC<SHA256>.authenticationCode(for: $0, using: hmacKey))
        }
        #expect(isInvalid { try service.verify(handMade) })
        // The same attack token as jwt-kit itself would produce it.
        let collection = JWTKeyCollection()
        await collection.add(hmac: HMACKey(from: key.publicKey), digestAlgorithm: .sha256, kid: "key-1")
        let claims = AccessTokenClaims(
            issuer: "classy", audience: "classy", subject: "attacker", sessionID: "s", role: .superAdmin,
            issuedAt: clock.now(), notBefore: clock.now(), expiresAt: clock.now().addingTimeInterval(900), tokenID: "j"
        )
        var header = JWTHeader()
        header.typ = "at+jwt"
        let forged = try await collection.sign(claims, header: header)
        #expect(isInvalid { try service.verify(forged) })
        // Also with the base64url text of the public key, a common way to write the JWK's x as the secret.
        let textKey = SymmetricKey(data: Data(base64URL(key.publicKey).utf8))
        let textForged = makeJWT(header: #"{"alg":"HS256","kid":"key-1","typ":"at+jwt"}"#, payload: payload) {
            Data(HMAC<SHA256>.authenticationCode(for: $0, using: textKey))
        }
        #expect(isInvalid { try service.verify(textForged) })
    }

    @Test("a tampered payload or signature is invalid")
    func tampered() throws {
        let (token, _) = try service.issueAccessToken(userID: "user-1", sessionID: "s", role: .user)
        let parts = token.split(separator: ".").map(String.init)
        let original = String(decoding: try #require(fromBase64URL(parts[1])), as: UTF8.self)
        let promoted = original.replacingOccurrences(of: #""role":"user""#, with: #""role":"super_admin""#)
        #expect(promoted != original)
        let tamperedPayload = [parts[0], base64URL(Data(promoted.utf8)), parts[2]].joined(separator: ".")
        #expect(tokenError { try service.verify(tamperedPayload) } == .invalid(reason: "bad signature"))

        var signature = try #require(fromBase64URL(parts[2]))
        signature[10] ^= 0x01
        let tamperedSignature = [parts[0], parts[1], base64URL(signature)].joined(separator: ".")
        #expect(isInvalid { try service.verify(tamperedSignature) })

        // The genuine token still verifies (and a tampered copy never poisons the cache).
        #expect(try service.verify(token).role == .user)
    }

    @Test("an unknown or missing kid is invalid, even when the signature is by a known key")
    func unknownKeyID() throws {
        let payload = claimsJSON(iat: clock.now())
        let sign = try ed25519Signer(key)
        let unknown = try makeJWT(
            header: #"{"alg":"EdDSA","kid":"key-9","typ":"at+jwt"}"#, payload: payload, sign: sign)
        #expect(tokenError { try service.verify(unknown) } == .invalid(reason: "unknown key ID"))
        let missing = try makeJWT(header: #"{"alg":"EdDSA","typ":"at+jwt"}"#, payload: payload, sign: sign)
        #expect(tokenError { try service.verify(missing) } == .invalid(reason: "missing key ID"))
        let stranger = TokenService.generateKeyMaterial(keyID: "key-1", now: clock.now())
        let wrongKey = try makeJWT(
            header: #"{"alg":"EdDSA","kid":"key-1","typ":"at+jwt"}"#, payload: payload,
            sign: try ed25519Signer(stranger)
        )
        #expect(tokenError { try service.verify(wrongKey) } == .invalid(reason: "bad signature"))
    }

    @Test("wrong iss, aud or typ is invalid")
    func wrongIssuerAudienceType() throws {
        let now = clock.now()
        let header = #"{"alg":"EdDSA","kid":"key-1","typ":"at+jwt"}"#
        let sign = try ed25519Signer(key)
        let wrongIssuer = try makeJWT(header: header, payload: claimsJSON(iss: "evil", iat: now), sign: sign)
        #expect(tokenError { try service.verify(wrongIssuer) } == .invalid(reason: "wrong issuer"))
        let wrongAudience = try makeJWT(header: header, payload: claimsJSON(aud: "other-app", iat: now), sign: sign)
        #expect(tokenError { try service.verify(wrongAudience) } == .invalid(reason: "wrong audience"))
        for type in [#""typ":"JWT""#, #""typ":"refresh+jwt""#] {
            let wrongType = try makeJWT(
                header: #"{"alg":"EdDSA","kid":"key-1",\#(type)}"#, payload: claimsJSON(iat: now), sign: sign)
            #expect(tokenError { try service.verify(wrongType) } == .invalid(reason: "wrong token type"))
        }
        let noType = try makeJWT(header: #"{"alg":"EdDSA","kid":"key-1"}"#, payload: claimsJSON(iat: now), sign: sign)
        #expect(isInvalid { try service.verify(noType) })

        // A service configured with another issuer and audience refuses our default tokens.
        let other = try TokenService(
            keys: [key], configuration: .init(issuer: "other", audience: "other"), clock: clock
        )
        let (token, _) = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        #expect(tokenError { try other.verify(token) } == .invalid(reason: "wrong issuer"))
    }

    @Test("malformed tokens are invalid")
    func malformed() throws {
        let (token, _) = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        let parts = token.split(separator: ".").map(String.init)
        let sign = try ed25519Signer(key)
        let header = #"{"alg":"EdDSA","kid":"key-1","typ":"at+jwt"}"#
        let cases = [
            "", ".", "..", "a.b.c", "not a token", parts[0] + "." + parts[1], token + ".", token + "=",
            parts[0] + "." + parts[1] + "." + parts[2].dropLast(2), "\(parts[0])!.\(parts[1]).\(parts[2])",
            String(repeating: "a", count: 10_000),
            try makeJWT(header: header, payload: "not json", sign: sign),
            try makeJWT(header: header, payload: #"{"sub":"u"}"#, sign: sign),
            try makeJWT(header: header, payload: claimsJSON(role: "emperor", iat: clock.now()), sign: sign),
            try makeJWT(header: "[]", payload: claimsJSON(iat: clock.now()), sign: sign),
            try makeJWT(
                header: #"{"alg":"EdDSA","kid":"key-1","typ":"at+jwt","crit":["exp"]}"#,
                payload: claimsJSON(iat: clock.now()), sign: sign
            ),
        ]
        for candidate in cases {
            #expect(isInvalid { try service.verify(candidate) }, "\(candidate.prefix(60))")
        }
    }

    @Test("after rotation the new key signs and old tokens verify while the old key is given")
    func rotation() throws {
        let (oldToken, _) = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        #expect(service.signingKeyID() == "key-1")

        clock.advance(by: 60)
        var retired = key
        retired.retireTime = clock.now()
        let newKey = TokenService.generateKeyMaterial(keyID: "key-2", now: clock.now())
        try service.replaceKeys([retired, newKey])
        #expect(service.signingKeyID() == "key-2")
        #expect(service.verificationKeyIDs() == ["key-1", "key-2"])

        let (newToken, _) = try service.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        #expect(try jsonObject(newToken.split(separator: ".")[0])["kid"] as? String == "key-2")
        #expect(try service.verify(newToken).subject == "u")
        #expect(try service.verify(oldToken).subject == "u")

        // A verification-only copy of the old key (no private key) still verifies.
        var publicOnly = retired
        publicOnly.privateKey = Data()
        try service.replaceKeys([publicOnly, newKey])
        #expect(try service.verify(oldToken).subject == "u")

        // Once the old key is dropped its tokens are refused, cached or not.
        try service.replaceKeys([newKey])
        #expect(tokenError { try service.verify(oldToken) } == .invalid(reason: "unknown key ID"))
        #expect(try service.verify(newToken).subject == "u")
    }

    @Test("the newest non-retired key signs; with every key retired, issuing fails")
    func signingKeySelection() throws {
        let older = TokenService.generateKeyMaterial(keyID: "older", now: clock.now().addingTimeInterval(-100))
        var newestRetired = TokenService.generateKeyMaterial(keyID: "newest", now: clock.now())
        newestRetired.retireTime = clock.now().addingTimeInterval(30)
        let tokens = try TokenService(keys: [older, newestRetired], clock: clock)
        #expect(tokens.signingKeyID() == "newest")
        clock.advance(by: 30)
        #expect(tokens.signingKeyID() == "older")
        var olderRetired = older
        olderRetired.retireTime = clock.now()
        try tokens.replaceKeys([olderRetired, newestRetired])
        #expect(tokens.signingKeyID() == nil)
        #expect(throws: SigningKeyError.noSigningKey) {
            try tokens.issueAccessToken(userID: "u", sessionID: "s", role: .user)
        }
    }

    @Test("malformed key material is refused")
    func badKeyMaterial() throws {
        let other = TokenService.generateKeyMaterial(keyID: "other", now: clock.now())
        var mismatched = key
        mismatched.publicKey = other.publicKey
        #expect(throws: SigningKeyError.mismatchedKeyPair(keyID: "key-1")) { try TokenService(keys: [mismatched]) }
        var shortKey = key
        shortKey.privateKey = Data(repeating: 1, count: 31)
        #expect(throws: SigningKeyError.invalidPrivateKey(keyID: "key-1")) { try TokenService(keys: [shortKey]) }
        var badPublic = key
        badPublic.publicKey = Data(repeating: 1, count: 16)
        #expect(throws: SigningKeyError.invalidPublicKey(keyID: "key-1")) { try TokenService(keys: [badPublic]) }
        #expect(throws: SigningKeyError.invalidKeyID(keyID: "key-1")) { try TokenService(keys: [key, key]) }
    }

    @Test("the verified-token cache stays bounded and evicted tokens still verify")
    func cacheBound() throws {
        let small = try TokenService(keys: [key], configuration: .init(verifiedTokenCacheCapacity: 3), clock: clock)
        let tokens = try (0..<10).map { _ in try small.issueAccessToken(userID: "u", sessionID: "s", role: .user).token
        }
        for token in tokens { _ = try small.verify(token) }
        for token in tokens { #expect(try small.verify(token).subject == "u") }
        clock.advance(by: 900)
        for token in tokens { #expect(tokenError { try small.verify(token) } == .expired) }
    }

    @Test("jwt-kit accepts our tokens through our JWKS, and we accept jwt-kit's EdDSA tokens")
    func jwtKitInterop() async throws {
        let realClock = FakeClock(Date())
        let tokens = try TokenService(keys: [key], clock: realClock)
        let (token, issued) = try tokens.issueAccessToken(userID: "u-9", sessionID: "s-9", role: .superAdmin)

        let fromJWKS = JWTKeyCollection()
        try await fromJWKS.add(jwksJSON: JWKSDocument.json(for: [key]))
        let decoded = try await fromJWKS.verify(token, as: AccessTokenClaims.self)
        #expect(decoded == issued)

        let signer = JWTKeyCollection()
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.privateKey)
        await signer.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: "key-1")
        var header = JWTHeader()
        header.typ = "at+jwt"
        // jwt-kit writes no kid unless asked, and a token without one is refused.
        let withoutKeyID = try await signer.sign(issued, header: header)
        #expect(tokenError { try tokens.verify(withoutKeyID) } == .invalid(reason: "missing key ID"))
        let signedByJWTKit = try await signer.sign(issued, kid: "key-1", header: header)
        #expect(try tokens.verify(signedByJWTKit) == issued)
    }
}
