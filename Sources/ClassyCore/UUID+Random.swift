import Foundation

extension UUID {
    /// A random (version 4) UUID from the system's secure generator.
    ///
    /// Foundation's `UUID()` on Linux opens, reads and closes `/dev/urandom` on every call (three system calls, and
    /// several UUIDs per sign-in); this is one `getrandom` call (``SecureRandom``).
    public static func random() -> UUID {
        var bytes: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            SecureRandom.fill(raw)
            raw[6] = (raw[6] & 0x0f) | 0x40  // version 4
            raw[8] = (raw[8] & 0x3f) | 0x80  // RFC 9562 variant
            return UUID(uuid: raw.load(as: uuid_t.self))
        }
    }

    /// The canonical text form in lower case ("8-4-4-4-12" hexadecimal digits), the form every stored id takes.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var index = 0
                for (offset, byte) in bytes.enumerated() {
                    if offset == 4 || offset == 6 || offset == 8 || offset == 10 {
                        text[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    Hex.write(byte, to: text, at: index)
                    index += 2
                }
                return index
            }
        }
    }

    /// A new random id in the canonical lower-case text form.
    public static func randomLowercasedString() -> String {
        random().lowercasedString
    }
}
