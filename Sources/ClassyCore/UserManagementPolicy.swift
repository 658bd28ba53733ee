/// Which accounts an administrator may create, change and remove (API.md "Roles"): the rules that
/// depend on the target account, which ``RPCPolicies/table`` cannot express.
///
/// - The primary admin can never be deactivated, deleted or demoted, by anyone (FORBIDDEN).
/// - An admin manages users of role USER only, and can never grant ADMIN or above (FORBIDDEN).
/// - Only a super admin creates, changes or removes ADMIN and SUPER_ADMIN accounts.
/// - ROLE_SERVICE belongs to service accounts and is never given to a user (INVALID_FIELD).
///
/// ```swift
/// try UserManagementPolicy.checkUpdate(
///     actor: caller.role,
///     target: .init(role: user.role, isPrimaryAdmin: user.isPrimaryAdmin),
///     change: .init(role: .admin)
/// )
/// ```
public enum UserManagementPolicy {
    /// The account acted on, as far as the rules care.
    public struct Target: Sendable, Hashable {
        /// The account's current role.
        public var role: Role
        /// Whether it is the primary admin.
        public var isPrimaryAdmin: Bool

        /// Describes a target account.
        public init(role: Role, isPrimaryAdmin: Bool = false) {
            self.role = role
            self.isPrimaryAdmin = isPrimaryAdmin
        }
    }

    /// A change to an existing account; `nil` leaves a field alone.
    public struct Change: Sendable, Hashable {
        /// The new role.
        public var role: Role?
        /// The new active flag.
        public var isActive: Bool?
        /// Whether the first or last name changes.
        public var changesProfile: Bool

        /// Describes a change.
        public init(role: Role? = nil, isActive: Bool? = nil, changesProfile: Bool = false) {
            self.role = role
            self.isActive = isActive
            self.changesProfile = changesProfile
        }
    }

    /// Checks that `actor` may create an account of `role`.
    ///
    /// - Parameter roleField: the request field naming the role, for the INVALID_FIELD violation.
    public static func checkCreate(actor: Role, role: Role, roleField: String = "role") throws(ClassyError) {
        try checkAssignable(role, field: roleField)
        try checkManages(actor: actor, role: role, verb: "create")
    }

    /// Checks that `actor` may apply `change` to `target`.
    ///
    /// - Parameter roleField: the request field naming the new role, for the INVALID_FIELD violation.
    public static func checkUpdate(
        actor: Role,
        target: Target,
        change: Change,
        roleField: String = "user.role"
    ) throws(ClassyError) {
        if let role = change.role { try checkAssignable(role, field: roleField) }
        if target.isPrimaryAdmin {
            if change.isActive == false {
                throw ClassyError(.forbidden, "the primary admin can never be deactivated")
            }
            if let role = change.role, role != target.role {
                throw ClassyError(.forbidden, "the primary admin can never be demoted")
            }
        }
        try checkManages(actor: actor, role: target.role, verb: "change")
        if let role = change.role, !manages(actor: actor, role: role) {
            throw ClassyError(.forbidden, "role \(actor.claim) may not grant role \(role.claim)")
        }
    }

    /// Checks that `actor` may delete `target`.
    public static func checkDelete(actor: Role, target: Target) throws(ClassyError) {
        if target.isPrimaryAdmin {
            throw ClassyError(.forbidden, "the primary admin can never be deleted")
        }
        try checkManages(actor: actor, role: target.role, verb: "delete")
    }

    /// Whether `actor` may manage (create, change, remove, or grant) accounts of `role`.
    public static func manages(actor: Role, role: Role) -> Bool {
        switch actor {
        case .superAdmin: role != .service
        case .admin: role == .user
        case .user, .service: false
        }
    }

    private static func checkManages(actor: Role, role: Role, verb: String) throws(ClassyError) {
        guard manages(actor: actor, role: role) else {
            throw ClassyError(.forbidden, "role \(actor.claim) may not \(verb) accounts of role \(role.claim)")
        }
    }

    private static func checkAssignable(_ role: Role, field: String) throws(ClassyError) {
        if role == .service {
            throw ClassyError.invalidField(
                field, "ROLE_SERVICE belongs to service accounts and cannot be given to a user")
        }
    }
}
