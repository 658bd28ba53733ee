import ClassyCore
import Foundation

/// The sort order of a user list.
public enum UserOrder: String, Sendable, Hashable, CaseIterable {
    /// Oldest first.
    case createTimeAscending
    /// Newest first.
    case createTimeDescending
    /// Email A to Z.
    case emailAscending
    /// Email Z to A.
    case emailDescending
}

/// A keyset position in a user list: the last user of the previous page.
public struct UserCursor: Sendable, Hashable {
    /// The create time of the last user returned.
    public var createTime: Date
    /// The email of the last user returned.
    public var email: String
    /// The id of the last user returned (tie-breaker).
    public var id: String

    /// Creates a cursor from its parts.
    public init(createTime: Date, email: String, id: String) {
        self.createTime = createTime
        self.email = email
        self.id = id
    }

    /// Creates the cursor that continues after `user`.
    public init(after user: UserRecord) {
        self.init(createTime: user.createTime, email: user.email, id: user.id)
    }
}

/// The filters, order and page of a user list.
public struct UserQuery: Sendable, Hashable {
    /// A case-insensitive substring of the email, first name or last name.
    public var text: String?
    /// Only users of this role.
    public var role: Role?
    /// Only active (`true`) or inactive (`false`) users.
    public var isActive: Bool?
    /// Whether soft-deleted users are included.
    public var includeDeleted: Bool
    /// The sort order.
    public var order: UserOrder
    /// Continue after this position (keyset paging).
    public var after: UserCursor?
    /// The maximum number of users to return (ask for one more than the page to detect a next page).
    public var limit: Int

    /// Creates a user query.
    public init(
        text: String? = nil,
        role: Role? = nil,
        isActive: Bool? = nil,
        includeDeleted: Bool = false,
        order: UserOrder = .createTimeAscending,
        after: UserCursor? = nil,
        limit: Int = 50
    ) {
        self.text = text
        self.role = role
        self.isActive = isActive
        self.includeDeleted = includeDeleted
        self.order = order
        self.after = after
        self.limit = limit
    }
}

/// One page of users and the number of users that match the filters.
public struct UserPage: Sendable, Equatable {
    /// The users of this page, in the requested order.
    public var users: [UserRecord]
    /// The number of users matching the filters (ignoring the cursor and limit).
    public var totalCount: Int

    /// Creates a page.
    public init(users: [UserRecord], totalCount: Int) {
        self.users = users
        self.totalCount = totalCount
    }
}
