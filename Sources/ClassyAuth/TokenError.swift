import ClassyCore

/// Why an access token was refused.
public enum TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The token was valid but its `exp` has passed (API reason `TOKEN_EXPIRED`).
    case expired
    /// The token is malformed, forged, not for us or not yet valid (API reason `TOKEN_INVALID`).
    case invalid(reason: String)

    /// Whether this is ``expired``.
    public var isExpired: Bool { self == .expired }

    /// A description for logs; never contains the token.
    public var description: String {
        switch self {
        case .expired: "token expired"
        case .invalid(let reason): "token invalid: \(reason)"
        }
    }
}
