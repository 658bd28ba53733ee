import ClassyCore
import Crypto
import Foundation
import JWTKit
import Synchronization

/// Issues and verifies Classy access tokens: JWTs signed with Ed25519 (`alg` `EdDSA`), `typ` `at+jwt`.
///
/// The newest non-retired key signs; every given key verifies. Verification pins the algorithm,
/// requires a `kid` naming a known key, and checks `typ`, `iss`, `aud`, `nbf` and `exp` against the
/// injected clock. Verified tokens are cached until they expire, so a token presented again costs one
/// dictionary lookup instead of an Ed25519 verification (revocation is still the caller's check).
///
/// Tokens are built with jwt-kit's claim and header types and signed with the same swift-crypto
/// Curve25519 primitive jwt-kit's EdDSA signer uses; the work is done here, synchronously, because
/// jwt-kit's key collection is an actor, falls back to its default key for an unknown `kid`, and checks
/// time claims against the system clock.
///
/// ```swift
/// let key = TokenService.generateKeyMaterial(keyID: "k1", now: Date())
/// let tokens = try TokenService(keys: [key])
/// let (token, _) = try tokens.issueAccessToken(userID: "u1", sessionID: "s1", role: .user)
/// let claims = try tokens.verify(token)
/// ```
public final class TokenService: Sendable {
    /// Issuer, audience, lifetimes and cache size.
    public struct Configuration: Sendable, Hashable {
        /// The `iss` claim written and required.
        public var issuer: String
        /// The `aud` claim written and required.
        public var audience: String
        /// How long an access token is valid.
        public var accessTokenLifetime: Duration
        /// How far in the future `nbf` and `iat` may be, for clocks of other replicas running ahead.
        public var clockSkewLeeway: Duration
        /// The most verified tokens remembered (0 disables the cache).
        public var verifiedTokenCacheCapacity: Int

        /// Creates a configuration; defaults: `classy`, `classy`, 15 minutes, 5 seconds, 10,000 tokens.
        public init(
            issuer: String = "classy",
            audience: String = "classy",
            accessTokenLifetime: Duration = .seconds(15 * 60),
            clockSkewLeeway: Duration = .seconds(5),
            verifiedTokenCacheCapacity: Int = 10_000
        ) {
            self.issuer = issuer
            self.audience = audience
            self.accessTokenLifetime = accessTokenLifetime
            self.clockSkewLeeway = clockSkewLeeway
            self.verifiedTokenCacheCapacity = verifiedTokenCacheCapacity
        }
    }

    /// The `typ` header of every access token (RFC 9068).
    public static let tokenType = "at+jwt"
    /// The only accepted `alg` header.
    public static let algorithm = "EdDSA"
    /// Tokens longer than this are refused before any parsing.
    static let maximumTokenLength = 8 * 1024

    /// A key ready for use, with its encoded header precomputed.
    private struct LoadedKey: Sendable {
        var material: SigningKeyMaterial
        var privateKey: Curve25519.Signing.PrivateKey?
        var publicKey: Curve25519.Signing.PublicKey
        var encodedHeader: String
    }

    private struct State {
        var keys: [String: LoadedKey]
        /// Keys with a private key, newest first.
        var signers: [LoadedKey]
        /// Bumped by every key replacement, so a verification that raced one is not cached.
        var keyGeneration: UInt64
        var cache: VerifiedTokenCache
    }

    /// The configuration in force.
    public let configuration: Configuration
    private let clock: any WallClock
    private let state: Mutex<State>
    private let lifetimeSeconds: Int64
    private let leewaySeconds: Double
    private let encoder: JSONEncoder
    private let decoder: JSONDecoder

    /// Creates a service with the given keys; throws when a key is malformed.
    public init(
        keys: [SigningKeyMaterial],
        configuration: Configuration = Configuration(),
        clock: any WallClock = SystemWallClock()
    ) throws(SigningKeyError) {
        self.configuration = configuration
        self.clock = clock
        self.lifetimeSeconds = configuration.accessTokenLifetime.components.seconds
        self.leewaySeconds = Double(configuration.clockSkewLeeway.components.seconds)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .integerSecondsSince1970
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.encoder = encoder
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        self.decoder = decoder
        let (loaded, signers) = try Self.load(keys, encoder: encoder)
        self.state = Mutex(
            State(
                keys: loaded, signers: signers, keyGeneration: 0,
                cache: VerifiedTokenCache(capacity: configuration.verifiedTokenCacheCapacity)
            )
        )
    }

    /// Generates a fresh Ed25519 key pair created at `now`.
    public static func generateKeyMaterial(keyID: String, now: Date) -> SigningKeyMaterial {
        let privateKey = Curve25519.Signing.PrivateKey()
        return SigningKeyMaterial(
            keyID: keyID,
            privateKey: privateKey.rawRepresentation,
            publicKey: privateKey.publicKey.rawRepresentation,
            createTime: now
        )
    }

    /// Replaces every key (after a rotation) and forgets the cached verifications.
    public func replaceKeys(_ keys: [SigningKeyMaterial]) throws(SigningKeyError) {
        let (loaded, signers) = try Self.load(keys, encoder: encoder)
        state.withLock { state in
            state.keys = loaded
            state.signers = signers
            state.keyGeneration &+= 1
            state.cache.removeAll()
        }
    }

    /// The ID of the key that signs now, if any.
    public func signingKeyID() -> String? {
        let now = clock.now()
        return state.withLock { state in state.signers.first { $0.material.canSign(at: now) }?.material.keyID }
    }

    /// The IDs of every key that verifies.
    public func verificationKeyIDs() -> Set<String> {
        state.withLock { Set($0.keys.keys) }
    }

    /// Signs a new access token for a user session (or, with a nil `sessionID`, a service account).
    public func issueAccessToken(
        userID: String, sessionID: String?, role: Role
    ) throws -> (token: String, claims: AccessTokenClaims) {
        let now = clock.now()
        guard let key = state.withLock({ state in state.signers.first { $0.material.canSign(at: now) } }),
            let privateKey = key.privateKey
        else { throw SigningKeyError.noSigningKey }
        let issuedAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let claims = AccessTokenClaims(
            issuer: configuration.issuer,
            audience: configuration.audience,
            subject: userID,
            sessionID: sessionID,
            role: role,
            issuedAt: issuedAt,
            notBefore: issuedAt,
            expiresAt: issuedAt.addingTimeInterval(Double(lifetimeSeconds)),
            tokenID: UUID.randomLowercasedString()
        )
        let signingInput = key.encodedHeader + "." + Base64URL.encode(claims.compactJSON)
        let signature = try privateKey.signature(for: Data(signingInput.utf8))
        return (signingInput + "." + Base64URL.encode(signature), claims)
    }

    /// Verifies an access token and returns its claims.
    ///
    /// Throws ``TokenError/expired`` for a genuine token past its `exp` and ``TokenError/invalid(reason:)``
    /// for everything else: malformed, `alg` other than EdDSA, missing or unknown `kid`, wrong `typ`,
    /// bad signature, wrong `iss` or `aud`, `nbf` in the future.
    public func verify(_ token: String) throws(TokenError) -> AccessTokenClaims {
        let now = clock.now()
        let cached = state.withLock { state -> AccessTokenClaims? in
            guard let claims = state.cache.claims(for: token) else { return nil }
            if now >= claims.exp.value { state.cache.remove(token) }
            return claims
        }
        if let cached {
            guard now < cached.exp.value else { throw .expired }
            return cached
        }

        guard token.utf8.count <= Self.maximumTokenLength else { throw .invalid(reason: "token too long") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .invalid(reason: "malformed token") }
        guard let headerData = Base64URL.decode(parts[0]),
            let header = try? decoder.decode(JWTHeader.self, from: headerData)
        else { throw .invalid(reason: "malformed header") }
        guard header.alg == Self.algorithm else { throw .invalid(reason: "algorithm not allowed") }
        guard header.typ?.lowercased() == Self.tokenType else { throw .invalid(reason: "wrong token type") }
        guard header.fields["crit"] == nil else { throw .invalid(reason: "unsupported critical header") }
        guard let keyID = header.kid else { throw .invalid(reason: "missing key ID") }
        guard let (key, generation) = state.withLock({ state in state.keys[keyID].map { ($0, state.keyGeneration) } })
        else { throw .invalid(reason: "unknown key ID") }

        guard let signature = Base64URL.decode(parts[2]), signature.count == 64 else {
            throw .invalid(reason: "malformed signature")
        }
        let signingInput = token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count)
        guard key.publicKey.isValidSignature(signature, for: Data(signingInput)) else {
            throw .invalid(reason: "bad signature")
        }

        guard let payload = Base64URL.decode(parts[1]),
            let claims = try? decoder.decode(AccessTokenClaims.self, from: payload)
        else { throw .invalid(reason: "malformed claims") }
        guard claims.iss.value == configuration.issuer else { throw .invalid(reason: "wrong issuer") }
        guard claims.aud.value.contains(configuration.audience) else { throw .invalid(reason: "wrong audience") }
        let latest = now.addingTimeInterval(leewaySeconds)
        guard claims.nbf.value <= latest, claims.iat.value <= latest else { throw .invalid(reason: "not yet valid") }
        guard now < claims.exp.value else { throw .expired }

        state.withLock { state in
            if state.keyGeneration == generation { state.cache.insert(token, claims: claims) }
        }
        return claims
    }

    /// Parses and checks key material; returns the keys by ID and the signing-capable keys newest first.
    private static func load(
        _ keys: [SigningKeyMaterial], encoder: JSONEncoder
    ) throws(SigningKeyError) -> ([String: LoadedKey], [LoadedKey]) {
        var loaded: [String: LoadedKey] = [:]
        for material in keys {
            guard !material.keyID.isEmpty, loaded[material.keyID] == nil else {
                throw .invalidKeyID(keyID: material.keyID)
            }
            guard material.publicKey.count == 32,
                let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: material.publicKey)
            else { throw .invalidPublicKey(keyID: material.keyID) }
            var privateKey: Curve25519.Signing.PrivateKey?
            if !material.privateKey.isEmpty {
                guard material.privateKey.count == 32,
                    let parsed = try? Curve25519.Signing.PrivateKey(rawRepresentation: material.privateKey)
                else { throw .invalidPrivateKey(keyID: material.keyID) }
                guard parsed.publicKey.rawRepresentation == publicKey.rawRepresentation else {
                    throw .mismatchedKeyPair(keyID: material.keyID)
                }
                privateKey = parsed
            }
            var header = JWTHeader()
            header.alg = algorithm
            header.typ = tokenType
            header.kid = material.keyID
            guard let headerJSON = try? encoder.encode(header) else { throw .invalidKeyID(keyID: material.keyID) }
            loaded[material.keyID] = LoadedKey(
                material: material, privateKey: privateKey, publicKey: publicKey,
                encodedHeader: Base64URL.encode(headerJSON)
            )
        }
        let signers = loaded.values
            .filter { $0.privateKey != nil }
            .sorted { ($0.material.createTime, $0.material.keyID) > ($1.material.createTime, $1.material.keyID) }
        return (loaded, signers)
    }
}
