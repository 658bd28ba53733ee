import ClassyCore
import Foundation

/// A stored user account.
public struct UserRecord: Sendable, Equatable, Hashable {
    /// The user's UUID.
    public var id: String
    /// The normalised (trimmed, lower-case) email; unique among non-deleted users.
    public var email: String
    /// The encoded password hash (for example an Argon2id PHC string).
    public var passwordHash: String
    /// The given name.
    public var firstName: String
    /// The family name.
    public var lastName: String
    /// The account's role.
    public var role: Role
    /// Whether this is the primary admin created at first start (at most one exists).
    public var isPrimaryAdmin: Bool
    /// Whether the account may sign in.
    public var isActive: Bool
    /// When the account was created.
    public var createTime: Date
    /// When an editable field last changed.
    public var updateTime: Date
    /// When the user last signed in successfully.
    public var lastLoginTime: Date?
    /// An opaque token that changes on every update of an editable field (compare-and-swap guard).
    public var etag: String
    /// Whether the user is soft-deleted (a tombstone in the change feed).
    public var deleted: Bool
    /// When the user was soft-deleted.
    public var deleteTime: Date?
    /// The global change sequence of the last create, update or delete of this user (the change-feed cursor).
    public var changeSequence: Int64

    /// Creates a user record.
    public init(
        id: String,
        email: String,
        passwordHash: String,
        firstName: String,
        lastName: String,
        role: Role,
        isPrimaryAdmin: Bool,
        isActive: Bool,
        createTime: Date,
        updateTime: Date,
        lastLoginTime: Date?,
        etag: String,
        deleted: Bool,
        deleteTime: Date?,
        changeSequence: Int64
    ) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.firstName = firstName
        self.lastName = lastName
        self.role = role
        self.isPrimaryAdmin = isPrimaryAdmin
        self.isActive = isActive
        self.createTime = createTime
        self.updateTime = updateTime
        self.lastLoginTime = lastLoginTime
        self.etag = etag
        self.deleted = deleted
        self.deleteTime = deleteTime
        self.changeSequence = changeSequence
    }
}

/// The fields of a user to create; the store assigns the etag and change sequence.
public struct NewUser: Sendable, Equatable {
    /// The user's UUID (generated when not given).
    public var id: String
    /// The email; the store normalises it.
    public var email: String
    /// The encoded password hash.
    public var passwordHash: String
    /// The given name.
    public var firstName: String
    /// The family name.
    public var lastName: String
    /// The account's role.
    public var role: Role
    /// Whether this is the primary admin (at most one; a second one is a ``StoreError/Code/conflict``).
    public var isPrimaryAdmin: Bool
    /// Whether the account may sign in.
    public var isActive: Bool
    /// The creation time (also the first update time).
    public var createTime: Date

    /// Creates the fields of a new user.
    public init(
        id: String = UUID.randomLowercasedString(),
        email: String,
        passwordHash: String,
        firstName: String,
        lastName: String,
        role: Role = .user,
        isPrimaryAdmin: Bool = false,
        isActive: Bool = true,
        createTime: Date
    ) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.firstName = firstName
        self.lastName = lastName
        self.role = role
        self.isPrimaryAdmin = isPrimaryAdmin
        self.isActive = isActive
        self.createTime = createTime
    }
}

/// A partial update of a user; `nil` fields are left unchanged.
public struct UserChanges: Sendable, Equatable {
    /// A new email (normalised by the store).
    public var email: String?
    /// A new password hash.
    public var passwordHash: String?
    /// A new given name.
    public var firstName: String?
    /// A new family name.
    public var lastName: String?
    /// A new role.
    public var role: Role?
    /// A new active flag.
    public var isActive: Bool?

    /// Creates a partial update.
    public init(
        email: String? = nil,
        passwordHash: String? = nil,
        firstName: String? = nil,
        lastName: String? = nil,
        role: Role? = nil,
        isActive: Bool? = nil
    ) {
        self.email = email
        self.passwordHash = passwordHash
        self.firstName = firstName
        self.lastName = lastName
        self.role = role
        self.isActive = isActive
    }

    /// True when no field is set.
    public var isEmpty: Bool {
        email == nil && passwordHash == nil && firstName == nil && lastName == nil && role == nil && isActive == nil
    }
}

/// The outcome of a user update or delete: the new state and the sessions revoked with it.
public struct UserMutation: Sendable, Equatable {
    /// The user after the change.
    public var user: UserRecord
    /// The ids of the sessions revoked in the same transaction.
    public var revokedSessionIDs: [String]

    /// Creates a mutation outcome.
    public init(user: UserRecord, revokedSessionIDs: [String]) {
        self.user = user
        self.revokedSessionIDs = revokedSessionIDs
    }
}

/// Sessions of the user to revoke in the same transaction as a user update.
public enum UserSessionRevocation: Sendable, Hashable {
    /// Every active session of the user (deactivation, password reset by an admin).
    case all(reason: String)
    /// Every active session except the caller's own (password change keeping the current session).
    case allExcept(keptSessionID: String, reason: String)
}
