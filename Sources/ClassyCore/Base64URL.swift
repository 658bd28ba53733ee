import Foundation

/// Unpadded base64url (RFC 4648 section 5), as JWTs, JWKs and page tokens use it.
///
/// Encoded byte by byte: going through `base64EncodedString()` and `replacingOccurrences` bridges through
/// `NSString`, a measurable cost on every token issued.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes bytes without padding.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        let length = (input.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: length) { output in
            var written = 0
            var index = 0
            while index + 3 <= input.count {
                let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                output[written] = alphabet[Int(chunk >> 18 & 63)]
                output[written + 1] = alphabet[Int(chunk >> 12 & 63)]
                output[written + 2] = alphabet[Int(chunk >> 6 & 63)]
                output[written + 3] = alphabet[Int(chunk & 63)]
                written += 4
                index += 3
            }
            let remaining = input.count - index
            if remaining > 0 {
                var chunk = UInt32(input[index]) << 16
                if remaining == 2 { chunk |= UInt32(input[index + 1]) << 8 }
                output[written] = alphabet[Int(chunk >> 18 & 63)]
                output[written + 1] = alphabet[Int(chunk >> 12 & 63)]
                written += 2
                if remaining == 2 {
                    output[written] = alphabet[Int(chunk >> 6 & 63)]
                    written += 1
                }
            }
            return written
        }
    }

    /// Decodes unpadded base64url; nil for any other character, padding included.
    public static func decode(_ text: some StringProtocol) -> Data? {
        var standard = [UInt8]()
        standard.reserveCapacity(text.utf8.count + 3)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                standard.append(byte)
            case UInt8(ascii: "-"): standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): standard.append(UInt8(ascii: "/"))
            default: return nil
            }
        }
        guard standard.count % 4 != 1 else { return nil }
        while standard.count % 4 != 0 { standard.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(standard))
    }
}
