import ClassyCore
import Testing

@Suite("Password policy")
struct PasswordPolicyTests {
    let policy = PasswordPolicy.standard

    @Test("8 to 128 characters are accepted; 7 and 129 are refused")
    func lengthBounds() {
        #expect(policy.validate("zq7vkrw") == .tooShort(minimum: 8))
        #expect(policy.validate("zq7vkrwp") == nil)
        #expect(policy.validate(String(repeating: "zq7vkrwp", count: 16)) == nil)
        #expect(policy.validate(String(repeating: "zq7vkrwp", count: 16) + "x") == .tooLong(maximum: 128))
        #expect(policy.validate("") == .tooShort(minimum: 8))
    }

    @Test("length counts characters, so an emoji is one character")
    func emojiAreCharacters() {
        #expect(policy.validate(String(repeating: "😀", count: 7)) == .tooShort(minimum: 8))
        #expect(policy.validate(String(repeating: "😀", count: 8)) == nil)
        #expect(policy.validate(String(repeating: "👨‍👩‍👧", count: 8)) == nil)
        #expect(policy.validate(String(repeating: "😀", count: 128)) == nil)
        #expect(policy.validate(String(repeating: "😀", count: 129)) == .tooLong(maximum: 128))
        #expect(policy.validate("café😀ñø日本") == nil)
    }

    @Test("common passwords are refused whatever their case")
    func commonPasswords() {
        #expect(policy.validate("password") == .common)
        #expect(policy.validate("PassWord") == .common)
        #expect(policy.validate("QWERTYUIOP") == .common)
        #expect(policy.validate("iloveyou") == .common)
        #expect(policy.validate("Trustno1") == .common)
        #expect(policy.validate("password-but-longer-and-mine") == nil)
        #expect(CommonPasswords.all.count >= 1_000)
        #expect(CommonPasswords.all.allSatisfy { $0.count >= 8 && $0 == $0.lowercased() })
    }

    @Test("no composition rules; only NUL is refused among characters")
    func characters() {
        #expect(policy.validate("alllowercaseletters") == nil)
        #expect(policy.validate("tab\tinside the password") == nil)
        #expect(policy.validate("nul\u{0}inside the password") == .containsNUL)
        #expect(PasswordPolicy(rejectsCommonPasswords: false).validate("password") == nil)
    }

    @Test("a huge single grapheme cluster is refused by the byte bound")
    func byteBound() {
        let zalgo = "a" + String(repeating: "\u{0301}", count: 600) + "bcdefgh"
        #expect(zalgo.count == 8)
        #expect(policy.validate(zalgo) == .tooLong(maximum: 128))
    }
}
