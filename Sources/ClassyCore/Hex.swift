/// Lower-case hexadecimal text, written straight into a string's storage.
public enum Hex {
    /// The lower-case hexadecimal digits of `bytes`, two per byte.
    @inlinable
    public static func lowercase<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            var index = 0
            for byte in bytes {
                write(byte, to: text, at: index)
                index += 2
            }
            return index
        }
    }

    /// Writes the two lower-case digits of `byte` at `index` and `index + 1` of `text`.
    @inlinable
    public static func write(_ byte: UInt8, to text: UnsafeMutableBufferPointer<UInt8>, at index: Int) {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { digits in
            text[index] = digits[Int(byte >> 4)]
            text[index + 1] = digits[Int(byte & 0x0f)]
        }
    }
}
