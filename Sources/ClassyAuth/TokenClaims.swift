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

extension AccessTokenClaims {
    /// The claims as compact JSON with sorted keys: byte for byte what `JSONEncoder` makes of them with sorted keys,
    /// unescaped slashes and dates as integer seconds, in a few microseconds instead of the ~50 µs `JSONEncoder`
    /// takes on Linux (a tenth of a Refresh's CPU). Times are whole seconds (``TokenService`` rounds them down).
    var compactJSON: [UInt8] {
        var json: [UInt8] = []
        json.reserveCapacity(320)
        func key(_ name: String, first: Bool = false) {
            json.append(contentsOf: (first ? "{\"" : ",\"").utf8)
            json.append(contentsOf: name.utf8)
            json.append(contentsOf: "\":".utf8)
        }
        func string(_ value: String) {
            Self.appendJSONString(value, to: &json)
        }
        func seconds(_ date: Date) {
            json.append(contentsOf: String(Int64(date.timeIntervalSince1970.rounded(.down))).utf8)
        }
        key("aud", first: true)
        if aud.value.count == 1 {
            string(aud.value[0])
        } else {
            json.append(UInt8(ascii: "["))
            for (index, audience) in aud.value.enumerated() {
                if index > 0 { json.append(UInt8(ascii: ",")) }
                string(audience)
            }
            json.append(UInt8(ascii: "]"))
        }
        key("exp")
        seconds(exp.value)
        key("iat")
        seconds(iat.value)
        key("iss")
        string(iss.value)
        key("jti")
        string(jti.value)
        key("nbf")
        seconds(nbf.value)
        key("role")
        string(role.claim)
        if let sid {
            key("sid")
            string(sid)
        }
        key("sub")
        string(sub.value)
        json.append(UInt8(ascii: "}"))
        return json
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends `value` as a JSON string the way `JSONEncoder` writes it with `.withoutEscapingSlashes`: quotes,
    /// backslashes and control characters escaped, everything else as UTF-8.
    static func appendJSONString(_ value: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case ..<0x20:
                json.append(contentsOf: "\\u00".utf8)
                json.append(hexDigits[Int(byte >> 4)])
                json.append(hexDigits[Int(byte & 0x0F)])
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }
}
