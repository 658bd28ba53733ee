import Foundation
import Testing

@testable import ClassyAuth
@testable import ClassyCore

@Suite("Access-token claims JSON")
struct TokenClaimsJSONTests {
    /// The encoder ``TokenService`` used before claims were written by hand; the hand-written JSON must match it.
    static func referenceJSON(_ claims: AccessTokenClaims) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .integerSecondsSince1970
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(claims))
    }

    static func claims(
        issuer: String = "classy", audience: String = "classy", sessionID: String? = "s-1"
    )
        -> AccessTokenClaims
    {
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        return AccessTokenClaims(
            issuer: issuer, audience: audience, subject: "0f8e5b1c-user", sessionID: sessionID, role: .superAdmin,
            issuedAt: now, notBefore: now, expiresAt: now.addingTimeInterval(900), tokenID: "jti-\(issuer.count)"
        )
    }

    @Test("user and service claims are byte for byte what JSONEncoder writes")
    func matchesJSONEncoder() throws {
        for claims in [Self.claims(), Self.claims(sessionID: nil)] {
            #expect(claims.compactJSON == (try Self.referenceJSON(claims)))
        }
    }

    @Test("strings with quotes, backslashes, slashes, control characters and non-ASCII are escaped as JSONEncoder does")
    func escaping() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        for text in [
            "say \"hi\"", "back\\slash", "https://issuer.example/path", controls, "über 🔐 issuer", "\u{7F}\u{2028}",
            "",
        ] {
            let claims = Self.claims(issuer: text, audience: text + "-aud")
            #expect(
                claims.compactJSON == (try Self.referenceJSON(claims)),
                "\(String(decoding: claims.compactJSON, as: UTF8.self))")
        }
    }

    @Test("several audiences are a JSON array, and the JSON decodes back to the same claims")
    func arrayAudienceRoundTrip() throws {
        var claims = Self.claims()
        claims.aud.value = ["a", "b\"c"]
        #expect(claims.compactJSON == (try Self.referenceJSON(claims)))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        #expect(try decoder.decode(AccessTokenClaims.self, from: Data(claims.compactJSON)) == claims)
    }
}
