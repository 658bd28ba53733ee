/// Why ``PasswordPolicy`` refused a password.
public enum PasswordPolicyViolation: Sendable, Hashable, CustomStringConvertible {
    /// Fewer characters than the minimum.
    case tooShort(minimum: Int)
    /// More characters (or UTF-8 bytes) than the maximum.
    case tooLong(maximum: Int)
    /// Contains a NUL character.
    case containsNUL
    /// On the built-in list of common leaked passwords.
    case common

    /// A message that can be shown to the user.
    public var description: String {
        switch self {
        case .tooShort(let minimum): "password must be at least \(minimum) characters"
        case .tooLong(let maximum): "password must be at most \(maximum) characters"
        case .containsNUL: "password must not contain NUL characters"
        case .common: "password is too common"
        }
    }
}

/// The rules a new password must meet: a length range, no composition rules, not a common password.
///
/// Length counts user-perceived characters (Swift `Character`s), so an emoji counts as one. Any printable
/// Unicode is allowed; only NUL is refused. A byte bound keeps pathological inputs (thousands of combining
/// marks on one character) out.
public struct PasswordPolicy: Sendable, Hashable {
    /// The fewest characters allowed.
    public var minimumLength: Int
    /// The most characters allowed.
    public var maximumLength: Int
    /// The most UTF-8 bytes allowed.
    public var maximumUTF8Length: Int
    /// Whether passwords on ``CommonPasswords`` are refused.
    public var rejectsCommonPasswords: Bool

    /// Creates a policy; the defaults are 8...128 characters, at most 1024 UTF-8 bytes, common passwords refused.
    public init(
        minimumLength: Int = 8,
        maximumLength: Int = 128,
        maximumUTF8Length: Int = 1024,
        rejectsCommonPasswords: Bool = true
    ) {
        self.minimumLength = minimumLength
        self.maximumLength = maximumLength
        self.maximumUTF8Length = maximumUTF8Length
        self.rejectsCommonPasswords = rejectsCommonPasswords
    }

    /// The default policy.
    public static let standard = PasswordPolicy()

    /// Returns why `password` is refused, or nil when it is acceptable.
    public func validate(_ password: String) -> PasswordPolicyViolation? {
        if password.utf8.count > maximumUTF8Length { return .tooLong(maximum: maximumLength) }
        let length = password.count
        if length < minimumLength { return .tooShort(minimum: minimumLength) }
        if length > maximumLength { return .tooLong(maximum: maximumLength) }
        if password.utf8.contains(0) { return .containsNUL }
        if rejectsCommonPasswords && CommonPasswords.contains(password) { return .common }
        return nil
    }
}
