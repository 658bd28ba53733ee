import ClassyAuth
import ClassyCore
import Foundation
import Testing

@Suite("Opaque tokens")
struct OpaqueTokenTests {
    @Test("32 random bytes make 43 base64url characters, all different")
    func generate() throws {
        let tokens = (0..<1_000).map { _ in OpaqueToken.generate(bytes: 32) }
        #expect(Set(tokens).count == tokens.count)
        for token in tokens {
            #expect(token.count == 43)
            #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            #expect(fromBase64URL(token)?.count == 32)
        }
        #expect(OpaqueToken.generate(bytes: 16).count == 22)
    }

    @Test("the bytes look uniformly random")
    func entropy() throws {
        var counts = [Int](repeating: 0, count: 256)
        for _ in 0..<1_000 {
            for byte in try #require(fromBase64URL(OpaqueToken.generate())) { counts[Int(byte)] += 1 }
        }
        // 32,000 bytes: each value is expected 125 times; a broken generator lands far outside this band.
        #expect(counts.allSatisfy { (50...220).contains($0) })
    }

    @Test("the hash is deterministic SHA-256 hex, and matches compares it")
    func hash() {
        let token = OpaqueToken.generate()
        #expect(OpaqueToken.hash(token) == OpaqueToken.hash(token))
        #expect(OpaqueToken.hash(token) != OpaqueToken.hash(OpaqueToken.generate()))
        #expect(OpaqueToken.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(OpaqueToken.hash(token).count == 64)
        #expect(OpaqueToken.matches(token, hash: OpaqueToken.hash(token)))
        #expect(!OpaqueToken.matches(token + "x", hash: OpaqueToken.hash(token)))
        #expect(!OpaqueToken.matches(token, hash: "short"))
    }
}
