extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    ///
    /// Done by hand on the request path: Foundation's `trimmingCharacters(in:)` bridges through `NSString`, a
    /// measurable cost per RPC.
    public func trimmingBlanks() -> String {
        func isBlank(_ character: Character) -> Bool { character == " " || character == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

extension String {
    /// The text without leading and trailing white space and line breaks, exactly what Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` removes (the Unicode White_Space scalars and U+200B),
    /// without bridging through `NSString`.
    public func trimmingWhitespace() -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace || scalar == "\u{200B}" }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) }) ?? first
        if first == scalars.startIndex && scalars.index(after: last) == scalars.endIndex { return self }
        return String(scalars[first...last])
    }
}
