import ClassyCore
import Testing

/// The target rules of user administration, as a full matrix of actor x target x action.
@Suite("UserManagementPolicy")
struct UserManagementPolicyTests {
    static let humanRoles: [Role] = [.user, .admin, .superAdmin]

    /// The reason an attempt was refused, or nil if allowed.
    static func outcome(_ check: () throws(ClassyError) -> Void) -> ClassyError.Code? {
        do {
            try check()
            return nil
        } catch {
            return error.code
        }
    }

    @Test("who may create which role", arguments: Role.allCases, Role.allCases)
    func create(actor: Role, role: Role) {
        let result = Self.outcome { () throws(ClassyError) in
            try UserManagementPolicy.checkCreate(actor: actor, role: role)
        }
        switch (actor, role) {
        case (_, .service): #expect(result == .invalidField)
        case (.superAdmin, _): #expect(result == nil)
        case (.admin, .user): #expect(result == nil)
        default: #expect(result == .forbidden)
        }
    }

    @Test("ROLE_SERVICE is an INVALID_FIELD naming the request field")
    func serviceRoleField() {
        do {
            try UserManagementPolicy.checkCreate(actor: .superAdmin, role: .service)
            Issue.record("ROLE_SERVICE was accepted")
        } catch {
            #expect(error.fieldViolations.map(\.field) == ["role"])
        }
        do {
            try UserManagementPolicy.checkUpdate(
                actor: .superAdmin, target: .init(role: .user), change: .init(role: .service))
            Issue.record("ROLE_SERVICE was accepted")
        } catch {
            #expect(error.fieldViolations.map(\.field) == ["user.role"])
        }
    }

    @Test("who may change, deactivate and delete whom", arguments: Role.allCases, humanRoles)
    func changeAndDelete(actor: Role, targetRole: Role) {
        let target = UserManagementPolicy.Target(role: targetRole)
        let manages = actor == .superAdmin || (actor == .admin && targetRole == .user)
        let expected: ClassyError.Code? = manages ? nil : .forbidden
        let changes: [UserManagementPolicy.Change] = [
            .init(changesProfile: true), .init(isActive: false), .init(isActive: true), .init(role: targetRole),
        ]
        for change in changes {
            #expect(
                Self.outcome { () throws(ClassyError) in
                    try UserManagementPolicy.checkUpdate(actor: actor, target: target, change: change)
                } == expected,
                "\(actor) -> \(targetRole): \(change)"
            )
        }
        #expect(
            Self.outcome { () throws(ClassyError) in try UserManagementPolicy.checkDelete(actor: actor, target: target)
            }
                == expected
        )
    }

    @Test("granting a role: admins grant only USER, super admins any human role", arguments: Role.allCases, humanRoles)
    func grant(actor: Role, newRole: Role) {
        let result = Self.outcome { () throws(ClassyError) in
            try UserManagementPolicy.checkUpdate(actor: actor, target: .init(role: .user), change: .init(role: newRole))
        }
        switch actor {
        case .superAdmin: #expect(result == nil)
        case .admin: #expect(result == (newRole == .user ? nil : .forbidden))
        case .user, .service: #expect(result == .forbidden)
        }
    }

    @Test("the primary admin is never deactivated, deleted or demoted, by anyone", arguments: Role.allCases)
    func primaryAdmin(actor: Role) {
        let primary = UserManagementPolicy.Target(role: .superAdmin, isPrimaryAdmin: true)
        #expect(
            Self.outcome { () throws(ClassyError) in
                try UserManagementPolicy.checkUpdate(actor: actor, target: primary, change: .init(isActive: false))
            } == .forbidden)
        #expect(
            Self.outcome { () throws(ClassyError) in
                try UserManagementPolicy.checkDelete(actor: actor, target: primary)
            } == .forbidden)
        for role in [Role.user, .admin] {
            #expect(
                Self.outcome { () throws(ClassyError) in
                    try UserManagementPolicy.checkUpdate(actor: actor, target: primary, change: .init(role: role))
                } == .forbidden)
        }
        // What a super admin may still do to it: rename it, or restate its role and active flag.
        let harmless = Self.outcome { () throws(ClassyError) in
            try UserManagementPolicy.checkUpdate(
                actor: actor,
                target: primary,
                change: .init(role: .superAdmin, isActive: true, changesProfile: true)
            )
        }
        #expect(harmless == (actor == .superAdmin ? nil : .forbidden))
    }

    @Test("manages(actor:role:) is the relation the checks apply")
    func managesRelation() {
        for actor in Role.allCases {
            for role in Role.allCases {
                let expected = (actor == .superAdmin && role != .service) || (actor == .admin && role == .user)
                #expect(UserManagementPolicy.manages(actor: actor, role: role) == expected, "\(actor) manages \(role)")
            }
        }
    }
}
