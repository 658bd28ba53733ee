import ClassyCore
import Foundation
import Testing

@Suite("Hand-written text and id helpers")
struct TextAndIDTests {
    @Test(
        "trimmingWhitespace removes what trimmingCharacters(in: .whitespacesAndNewlines) removes",
        arguments: [
            "", " ", "\t\n\r ", "plain", "  ada@example.com ", "\u{00A0}nbsp\u{00A0}", "\u{2003}em space\u{3000}",
            "\u{2028}line\u{2029}", "\u{0085}next\u{000B}\u{000C}", "in side  spaces", " é ",
            "\u{200B}zero width\u{200B}",
            "👩‍💻 ", " a", "a ", "\u{180E}mongolian\u{180E}", "\u{FEFF}bom\u{FEFF}", "\u{1680}\u{205F}\u{202F}x",
        ]
    )
    func trimmingMatchesFoundation(text: String) {
        #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("normaliseEmail trims and lower-cases")
    func normaliseEmail() {
        #expect(FieldValidator.normaliseEmail("  Ada@Example.COM\n") == "ada@example.com")
        #expect(FieldValidator.normaliseEmail("\u{00A0}") == "")
    }

    @Test("UUID.random is a version 4, RFC 9562 variant UUID, different every time")
    func randomUUID() {
        var seen = Set<UUID>()
        for _ in 0..<1000 {
            let id = UUID.random()
            let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 4)
            #expect(bytes[8] >> 6 == 0b10)
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }

    @Test("lowercasedString is Foundation's uuidString in lower case")
    func lowercasedString() throws {
        for _ in 0..<200 {
            let id = UUID.random()
            #expect(id.lowercasedString == id.uuidString.lowercased())
            #expect(UUID(uuidString: id.lowercasedString) == id)
        }
        let fixed = try #require(UUID(uuidString: "00FF10A0-B1C2-4D3E-8F40-0123456789AB"))
        #expect(fixed.lowercasedString == "00ff10a0-b1c2-4d3e-8f40-0123456789ab")
        #expect(UUID.randomLowercasedString().count == 36)
    }

    @Test("SecureRandom fills every byte of requests of any size, differently each time")
    func secureRandom() {
        #expect(SecureRandom.bytes(0).isEmpty)
        #expect(SecureRandom.bytes(-3).isEmpty)
        for count in [1, 7, 8, 9, 16, 33, 4096] {
            let first = SecureRandom.bytes(count)
            #expect(first.count == count)
            if count >= 16 {
                #expect(first != SecureRandom.bytes(count))
                // Every byte position is written: over 64 draws, no position stays zero throughout
                // (each would with probability 256^-64).
                var touched = [Bool](repeating: false, count: count)
                for _ in 0..<64 {
                    for (index, byte) in SecureRandom.bytes(count).enumerated() where byte != 0 {
                        touched[index] = true
                    }
                }
                #expect(touched.allSatisfy { $0 })
            }
        }
        // Values look uniform: 64 KiB has each byte value about 256 times.
        var histogram = [Int](repeating: 0, count: 256)
        for byte in SecureRandom.bytes(65536) { histogram[Int(byte)] += 1 }
        #expect(histogram.allSatisfy { (150...380).contains($0) })
    }

    @Test("Hex.lowercase writes two lower-case digits per byte")
    func hex() {
        #expect(Hex.lowercase([UInt8]()) == "")
        #expect(Hex.lowercase([0x00, 0x0f, 0x10, 0xa5, 0xff]) == "000f10a5ff")
        let bytes = SecureRandom.bytes(100)
        #expect(Hex.lowercase(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
    }
}
