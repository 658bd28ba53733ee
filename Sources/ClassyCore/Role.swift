/// The role of an account; decides which RPCs it may call (see ``AuthorizationTable``).
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// A regular user: own profile, sessions and notifications.
    case user
    /// Reads all users, manages users of role ``user``, all of monitoring.
    case admin
    /// Everything, including managing admins and service accounts.
    case superAdmin = "super_admin"
    /// A service account: a narrow, separate set of RPCs.
    case service

    /// Rank among the human roles; ``service`` ranks below ``user`` for comparisons.
    public var rank: Int {
        switch self {
        case .service: 0
        case .user: 1
        case .admin: 2
        case .superAdmin: 3
        }
    }

    /// True for ``admin`` and ``superAdmin``.
    public var isAdmin: Bool { self == .admin || self == .superAdmin }

    /// The value of the JWT `role` claim.
    public var claim: String { rawValue }

    /// Parses a JWT `role` claim.
    public init?(claim: String) { self.init(rawValue: claim) }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}
