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
