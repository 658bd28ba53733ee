import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation

// The requests of UsersService, validated once at the edge of each handler into typed values.
// Every violation of a request is reported together (one BadRequest field violation per bad field).

/// An UpdateMe request: new names at the caller's current etag.
struct ProfileUpdate: Sendable, Equatable {
    /// The etag the client last saw.
    var etag: String
    /// The changes (first and/or last name).
    var changes: UserChanges

    init(validating request: Classy_Users_V1_UpdateMeRequest, callerID: String) throws(ClassyError) {
        var check = FieldValidator()
        let paths = check.updateMask(request.updateMask.paths, allowed: ["first_name", "last_name"])
        let user = request.user
        if !user.id.isEmpty, user.id.lowercased() != callerID {
            check.fail("user.id", "must be empty or the caller's own id")
        }
        etag = check.etag("user.etag", user.etag)
        changes = UserChanges()
        if paths.contains("first_name") { changes.firstName = check.text("user.first_name", user.firstName, max: 100) }
        if paths.contains("last_name") { changes.lastName = check.text("user.last_name", user.lastName, max: 100) }
        try check.finish()
    }
}

/// A CreateUser request.
struct UserCreation: Sendable {
    var email: String
    var password: String
    var firstName: String
    var lastName: String
    var role: Role

    init(validating request: Classy_Users_V1_CreateUserRequest) throws(ClassyError) {
        var check = FieldValidator()
        email = check.email("email", request.email)
        password = request.password
        if let violation = PasswordPolicy.standard.validate(request.password) {
            check.fail("password", violation.description)
        }
        firstName = check.text("first_name", request.firstName, max: 100)
        lastName = check.text("last_name", request.lastName, max: 100)
        // ROLE_SERVICE passes here: UserManagementPolicy owns that rule.
        role = check.role("role", request.role, default: .user) ?? .user
        try check.finish()
    }
}

/// An UpdateUser request: the fields named in update_mask, at the user's current etag.
struct AdministrativeUpdate: Sendable, Equatable {
    var userID: String
    var etag: String
    var changes: UserChanges

    init(validating request: Classy_Users_V1_UpdateUserRequest) throws(ClassyError) {
        var check = FieldValidator()
        let paths = check.updateMask(
            request.updateMask.paths, allowed: ["first_name", "last_name", "role", "is_active"])
        let user = request.user
        userID = check.identifier("user.id", user.id)
        etag = check.etag("user.etag", user.etag)
        changes = UserChanges()
        if paths.contains("first_name") { changes.firstName = check.text("user.first_name", user.firstName, max: 100) }
        if paths.contains("last_name") { changes.lastName = check.text("user.last_name", user.lastName, max: 100) }
        if paths.contains("role") { changes.role = check.role("user.role", user.role, default: nil) }
        if paths.contains("is_active") { changes.isActive = user.isActive }
        try check.finish()
    }

    /// What the change means to ``UserManagementPolicy``.
    var policyChange: UserManagementPolicy.Change {
        .init(
            role: changes.role, isActive: changes.isActive,
            changesProfile: changes.firstName != nil || changes.lastName != nil)
    }
}

/// A DeleteUser request.
struct UserDeletion: Sendable, Equatable {
    var userID: String
    var etag: String

    init(validating request: Classy_Users_V1_DeleteUserRequest) throws(ClassyError) {
        var check = FieldValidator()
        userID = check.identifier("user_id", request.userID)
        etag = check.etag("etag", request.etag)
        try check.finish()
    }
}

/// A GetUser request.
struct UserLookup: Sendable, Equatable {
    var userID: String

    init(validating request: Classy_Users_V1_GetUserRequest) throws(ClassyError) {
        var check = FieldValidator()
        userID = check.identifier("user_id", request.userID)
        try check.finish()
    }
}

/// A ListUsers request: filters, order, page size and the position after the previous page.
struct UserListing: Sendable, Equatable {
    /// The filters and order a page token is bound to.
    struct Filters: Codable, Sendable, Hashable {
        var query: String
        var role: String?
        var active: Bool?
        var showDeleted: Bool
        var order: String
    }

    /// A ListUsers page token: the filters it was made for and the last user of its page.
    struct Token: Codable, Sendable, Hashable {
        var filters: Filters
        /// The last user's create time, in seconds since the reference date (exact in JSON).
        var createTime: Double
        var email: String
        var id: String
    }

    var filters: Filters
    var query: UserQuery
    var pageSize: Int

    init(validating request: Classy_Users_V1_ListUsersRequest) throws(ClassyError) {
        var check = FieldValidator()
        pageSize = check.pageSize(request.pageSize)
        let text = check.text("query", request.query.trimmingCharacters(in: .whitespaces), max: 254)
        let role = check.role("role", request.role, default: nil)
        let order = check.userOrder("order_by", request.orderBy)
        let active = request.hasActiveFilter ? request.activeFilter : nil
        filters = Filters(
            query: text, role: role?.claim, active: active, showDeleted: request.showDeleted, order: order.rawValue
        )
        query = UserQuery(
            text: text.isEmpty ? nil : text,
            role: role,
            isActive: active,
            includeDeleted: request.showDeleted,
            order: order,
            after: nil,
            // One more than the page tells whether a next page exists.
            limit: pageSize + 1
        )
        try check.finish()
        if let token = try PageToken.decode(Token.self, from: request.pageToken) {
            guard token.filters == filters else {
                throw ClassyError.invalidField("page_token", "was made for other filters or another order_by")
            }
            query.after = UserCursor(
                createTime: Date(timeIntervalSinceReferenceDate: token.createTime), email: token.email, id: token.id
            )
        }
    }

    /// The token of the page that continues after `user`.
    func token(after user: UserRecord) -> String {
        PageToken.encode(
            Token(
                filters: filters, createTime: user.createTime.timeIntervalSinceReferenceDate, email: user.email,
                id: user.id)
        )
    }
}

/// A ListUserChanges position: the change sequence of the last change seen.
struct UserChangeCursor: Codable, Sendable, Hashable {
    var sequence: Int64

    /// Reads `since_cursor`; the empty cursor is the beginning of the feed.
    init(validating text: String) throws(ClassyError) {
        let decoded = try PageToken.decode(UserChangeCursor.self, from: text, field: "since_cursor")
        if let decoded, decoded.sequence < 0 {
            throw ClassyError.invalidField("since_cursor", "is not a cursor returned by this server")
        }
        sequence = decoded?.sequence ?? 0
    }

    init(sequence: Int64) { self.sequence = sequence }

    /// The opaque text form (stable across restarts: it is the stored change sequence).
    var text: String { PageToken.encode(self) }
}

/// A ListNotifications request.
struct NotificationListing: Sendable, Equatable {
    /// A ListNotifications page token: the cursor of the last (oldest) notification of the page.
    struct Token: Codable, Sendable, Hashable {
        var before: Int64
        var unreadOnly: Bool
    }

    var pageSize: Int
    var unreadOnly: Bool
    var before: Int64?

    init(validating request: Classy_Users_V1_ListNotificationsRequest) throws(ClassyError) {
        var check = FieldValidator()
        pageSize = check.pageSize(request.pageSize)
        unreadOnly = request.unreadOnly
        try check.finish()
        if let token = try PageToken.decode(Token.self, from: request.pageToken) {
            guard token.unreadOnly == unreadOnly else {
                throw ClassyError.invalidField("page_token", "was made with another unread_only")
            }
            before = token.before
        }
    }

    /// The token of the page after the one ending with `notification`.
    func token(after notification: NotificationRecord) -> String {
        PageToken.encode(Token(before: notification.cursor, unreadOnly: unreadOnly))
    }
}

/// A MarkNotificationsRead request.
struct NotificationMarking: Sendable, Equatable {
    var selection: NotificationSelection

    /// The most ids one request may name.
    static let maxIDs = 500

    init(validating request: Classy_Users_V1_MarkNotificationsReadRequest) throws(ClassyError) {
        var check = FieldValidator()
        if request.all {
            if !request.notificationIds.isEmpty {
                check.fail("notification_ids", "must be empty when all is set")
            }
            selection = .all
        } else if request.notificationIds.isEmpty {
            check.fail("notification_ids", "must name at least one notification, or set all")
            selection = .ids([])
        } else if request.notificationIds.count > Self.maxIDs {
            check.fail("notification_ids", "must name at most \(Self.maxIDs) notifications")
            selection = .ids([])
        } else {
            var ids: [String] = []
            for (index, id) in request.notificationIds.enumerated() {
                ids.append(check.identifier("notification_ids[\(index)]", id))
            }
            selection = .ids(ids)
        }
        try check.finish()
    }
}

extension FieldValidator {
    /// Checks an update mask: present, non-empty, and naming only `allowed` paths; returns its paths.
    mutating func updateMask(_ maskPaths: [String], allowed: [String]) -> Set<String> {
        let listed = allowed.joined(separator: ", ")
        guard !maskPaths.isEmpty else {
            fail("update_mask", "must name at least one of: \(listed)")
            return []
        }
        var paths: Set<String> = []
        for path in maskPaths {
            if allowed.contains(path) {
                paths.insert(path)
            } else {
                fail("update_mask", "\"\(path.prefix(100))\" cannot be updated here; allowed: \(listed)")
            }
        }
        return paths
    }

    /// Checks an etag: required, bounded, printable.
    mutating func etag(_ field: String, _ value: String) -> String {
        if value.isEmpty {
            fail(field, "must be the current etag of the user (read it first)")
        } else {
            text(field, value, max: 128)
        }
        return value
    }

    /// Checks a role enum; ROLE_UNSPECIFIED gives `default`, unknown values are violations.
    mutating func role(_ field: String, _ value: Classy_Users_V1_Role, default: Role?) -> Role? {
        if value == .unspecified { return `default` }
        guard let role = Role(api: value) else {
            fail(field, "is not a known role")
            return `default`
        }
        return role
    }

    /// Parses ListUsers.order_by: "create_time" (default), "create_time desc", "email", "email desc".
    mutating func userOrder(_ field: String, _ value: String) -> UserOrder {
        let words = value.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
        switch words {
        case [], ["create_time"], ["create_time", "asc"]: return .createTimeAscending
        case ["create_time", "desc"]: return .createTimeDescending
        case ["email"], ["email", "asc"]: return .emailAscending
        case ["email", "desc"]: return .emailDescending
        default:
            fail(field, "must be one of \"create_time\", \"create_time desc\", \"email\", \"email desc\"")
            return .createTimeAscending
        }
    }
}
