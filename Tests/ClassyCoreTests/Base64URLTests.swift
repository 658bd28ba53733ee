import ClassyCore
import Foundation
import Testing

@Suite("Base64URL")
struct Base64URLTests {
    @Test("matches Foundation's base64 with the URL alphabet and no padding, and round-trips, for 0...200 bytes")
    func matchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...200 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == expected)
            #expect(Base64URL.decode(encoded) == Data(bytes))
        }
    }

    @Test("decoding refuses padding, the standard alphabet and impossible lengths")
    func refusesForeignInput() {
        #expect(Base64URL.decode("AA==") == nil)
        #expect(Base64URL.decode("a+b/") == nil)
        #expect(Base64URL.decode("AAAAA") == nil)
        #expect(Base64URL.decode("") == Data())
    }
}
