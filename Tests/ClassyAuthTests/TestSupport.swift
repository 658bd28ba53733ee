import ClassyAuth
import ClassyCore
import Crypto
import Foundation
import Synchronization
import Testing

/// A wall clock that only moves when a test moves it.
final class FakeClock: WallClock {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_700_000_000)) {
        current = Mutex(start)
    }

    func now() -> Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// Cheap Argon2 parameters so tests stay fast; production parameters are exercised separately.
let fastArgon2 = Argon2Parameters(memoryKiB: 1024, iterations: 1, parallelism: 1)

/// Unpadded base64url, written independently of the code under test.
func base64URL(_ data: some DataProtocol) -> String {
    Data(data).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// Decodes unpadded base64url.
func fromBase64URL(_ text: some StringProtocol) -> Data? {
    var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
    return Data(base64Encoded: standard)
}

/// Decodes one base64url JSON part of a JWT into a dictionary.
func jsonObject(_ part: some StringProtocol) throws -> [String: Any] {
    let data = try #require(fromBase64URL(part))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// Builds a compact JWT from raw JSON, signed by `sign` over `header.payload`.
func makeJWT(header: String, payload: String, sign: (Data) throws -> Data) rethrows -> String {
    let input = base64URL(Data(header.utf8)) + "." + base64URL(Data(payload.utf8))
    return input + "." + base64URL(try sign(Data(input.utf8)))
}

/// Builds a claims JSON object with the given overrides, times as whole seconds.
func claimsJSON(
    iss: String = "classy", aud: String = "classy", sub: String = "user-1", sid: String? = "session-1",
    role: String = "user", iat: Date, nbf: Date? = nil, exp: Date? = nil, jti: String = "jti-1"
) -> String {
    let nbf = nbf ?? iat
    let exp = exp ?? iat.addingTimeInterval(900)
    var fields = [
        #""iss":"\#(iss)""#, #""aud":"\#(aud)""#, #""sub":"\#(sub)""#, #""role":"\#(role)""#,
        #""iat":\#(Int(iat.timeIntervalSince1970))"#, #""nbf":\#(Int(nbf.timeIntervalSince1970))"#,
        #""exp":\#(Int(exp.timeIntervalSince1970))"#, #""jti":"\#(jti)""#,
    ]
    if let sid { fields.append(#""sid":"\#(sid)""#) }
    return "{" + fields.joined(separator: ",") + "}"
}

/// Ed25519-signs with a raw private key.
func ed25519Signer(_ material: SigningKeyMaterial) throws -> (Data) throws -> Data {
    let key = try Curve25519.Signing.PrivateKey(rawRepresentation: material.privateKey)
    return { try key.signature(for: $0) }
}

/// Whether `body` throws ``TokenError/invalid(reason:)``.
func isInvalid(_ body: () throws -> AccessTokenClaims) -> Bool {
    if case .invalid = tokenError(body) { return true }
    return false
}

/// The error `body` throws, if any.
func tokenError(_ body: () throws -> AccessTokenClaims) -> TokenError? {
    do {
        _ = try body()
        return nil
    } catch let error as TokenError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}
