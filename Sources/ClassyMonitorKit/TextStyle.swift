/// The few text styles of the monitor's output, as ANSI SGR sequences.
public enum TextStyle: Sendable, Hashable {
    case plain, dim, bold, red, green, yellow, cyan, magenta, inverse, boldRed

    var sgr: String {
        switch self {
        case .plain: ""
        case .dim: "\u{1B}[2m"
        case .bold: "\u{1B}[1m"
        case .red: "\u{1B}[31m"
        case .green: "\u{1B}[32m"
        case .yellow: "\u{1B}[33m"
        case .cyan: "\u{1B}[36m"
        case .magenta: "\u{1B}[35m"
        case .inverse: "\u{1B}[7m"
        case .boldRed: "\u{1B}[1;31m"
        }
    }

    /// `text` in this style (unchanged when `color` is false).
    public func apply(_ text: String, color: Bool) -> String {
        guard color, self != .plain, !text.isEmpty else { return text }
        return sgr + text + "\u{1B}[0m"
    }
}

/// A run of text in one style; lines are arrays of spans so they can be cut to a width before colouring.
public struct Span: Sendable, Hashable {
    /// The text.
    public var text: String
    /// Its style.
    public var style: TextStyle

    /// A span of `text` in `style`.
    public init(_ text: String, _ style: TextStyle = .plain) {
        self.text = text
        self.style = style
    }
}

extension Array where Element == Span {
    /// The visible width (one column per Character; the output is ASCII plus single-width symbols).
    public var width: Int { reduce(0) { $0 + $1.text.count } }

    /// Cut to at most `width` columns, then padded with spaces to exactly `width` if `pad`.
    public func fitted(to width: Int, pad: Bool) -> [Span] {
        var result: [Span] = []
        var remaining = width
        for span in self where remaining > 0 {
            if span.text.count <= remaining {
                result.append(span)
                remaining -= span.text.count
            } else {
                result.append(Span(String(span.text.prefix(remaining)), span.style))
                remaining = 0
            }
        }
        if pad && remaining > 0 { result.append(Span(String(repeating: " ", count: remaining))) }
        return result
    }

    /// The text, with ANSI styles if `color`.
    public func rendered(color: Bool) -> String {
        map { $0.style.apply($0.text, color: color) }.joined()
    }
}

extension String {
    /// Cut to `width` columns (ending in `…` when cut), padded with spaces to exactly `width`.
    public func column(_ width: Int) -> String {
        guard width > 0 else { return "" }
        if count > width { return width == 1 ? "…" : String(prefix(width - 1)) + "…" }
        return self + String(repeating: " ", count: width - count)
    }
}
