import ClassyCore
import Foundation
import JWTKit

/// The claims of a Classy access token (JWT, `typ` `at+jwt`).
///
/// Times are whole seconds. ``sid`` is absent on service-account tokens.
public struct AccessTokenClaims: JWTPayload, Hashable {
    /// Issuer (`iss`), by default `classy`.
    public var iss: IssuerClaim
    /// Audience (`aud`), by default `classy`.
    public var aud: AudienceClaim
    /// Subject (`sub`): the user or service account ID.
    public var sub: SubjectClaim
    /// Session ID (`sid`); nil for service tokens.
    public var sid: String?
    /// Role of the subject (`role`).
    public var role: Role
    /// Issued at (`iat`).
    public var iat: IssuedAtClaim
    /// Not before (`nbf`).
    public var nbf: NotBeforeClaim
    /// Expiration time (`exp`).
    public var exp: ExpirationClaim
    /// Unique token ID (`jti`).
    public var jti: IDClaim

    /// Creates claims from their values.
    public init(
        issuer: String, audience: String, subject: String, sessionID: String?, role: Role,
        issuedAt: Date, notBefore: Date, expiresAt: Date, tokenID: String
    ) {
        self.iss = IssuerClaim(value: issuer)
        self.aud = AudienceClaim(value: [audience])
        self.sub = SubjectClaim(value: subject)
        self.sid = sessionID
        self.role = role
        self.iat = IssuedAtClaim(value: issuedAt)
        self.nbf = NotBeforeClaim(value: notBefore)
        self.exp = ExpirationClaim(value: expiresAt)
        self.jti = IDClaim(value: tokenID)
    }

    /// The user or service account ID (`sub`).
    public var subject: String { sub.value }
    /// The session ID (`sid`), nil for service tokens.
    public var sessionID: String? { sid }
    /// When the token was issued (`iat`).
    public var issuedAt: Date { iat.value }
    /// When the token stops being valid (`exp`).
    public var expiresAt: Date { exp.value }
    /// The unique token ID (`jti`).
    public var tokenID: String { jti.value }

    /// jwt-kit's verification hook, which checks `exp` and `nbf` against the system clock.
    ///
    /// ``TokenService`` does not rely on it: it checks the time claims against its injected clock.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore(currentDate: Date().addingTimeInterval(1))
    }

    /// Whether every claim is equal.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.iss == rhs.iss && lhs.aud == rhs.aud && lhs.sub == rhs.sub && lhs.sid == rhs.sid && lhs.role == rhs.role
            && lhs.iat == rhs.iat && lhs.nbf == rhs.nbf && lhs.exp == rhs.exp && lhs.jti == rhs.jti
    }

    /// Hashes the identifying claims (`jti`, `sub`, `exp`).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(jti.value)
        hasher.combine(sub.value)
        hasher.combine(exp.value)
    }
}
