import Foundation

/// The role of an account.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    /// An ordinary user: own profile, sessions and notifications.
    case user
    /// Reads all users, manages USER accounts, monitors security.
    case admin
    /// Everything, including managing admins and service accounts.
    case superAdmin = "super_admin"
    /// A service account (client credentials).
    case service
}

/// An account as the server describes it.
public struct User: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var email: String
    public var firstName: String
    public var lastName: String
    public var role: Role
    public var isPrimaryAdmin: Bool
    public var isActive: Bool
    public var createTime: Date?
    public var updateTime: Date?
    public var lastLoginTime: Date?
    /// The version of this record; send it back with updates so stale writes are refused.
    public var etag: String
    /// True for a tombstone of a deleted account (from the change feed).
    public var deleted: Bool

    public init(
        id: String, email: String, firstName: String, lastName: String, role: Role, isPrimaryAdmin: Bool = false,
        isActive: Bool = true, createTime: Date? = nil, updateTime: Date? = nil, lastLoginTime: Date? = nil,
        etag: String, deleted: Bool = false
    ) {
        self.id = id
        self.email = email
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
    }
}

/// A signed-in device or app of an account.
public struct Session: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var userID: String
    public var ipAddress: String
    public var userAgent: String
    public var deviceName: String
    public var platform: String
    public var createTime: Date?
    public var lastUsedTime: Date?
    public var expireTime: Date?
    /// True for the session this client is signed in with.
    public var isCurrent: Bool
}

/// What a notification is about.
public enum NotificationKind: String, Sendable, Hashable, Codable {
    case newSignIn = "new_sign_in"
    case passwordChanged = "password_changed"
    case sessionRevoked = "session_revoked"
    case accountLocked = "account_locked"
    case roleChanged = "role_changed"
    case profileUpdated = "profile_updated"
    case unknown
}

/// A message from the server to the signed-in user (named so it does not clash with Foundation's `Notification`).
public struct UserNotification: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var kind: NotificationKind
    public var title: String
    public var body: String
    public var data: [String: String]
    public var createTime: Date?
    public var read: Bool
    /// The position of this notification in the user's feed (resume streams after it).
    public var cursor: String
}

/// A page of notifications with the unread count.
public struct NotificationPage: Sendable, Hashable, Codable {
    public var notifications: [UserNotification]
    public var unreadCount: Int
    public var nextPageToken: String?
}

/// A page of users.
public struct UserPage: Sendable, Hashable, Codable {
    public var users: [User]
    public var nextPageToken: String?
    public var totalSize: Int
}

/// Filters of a user listing.
public struct UserQuery: Sendable, Hashable {
    /// Email or name substring.
    public var text: String?
    public var role: Role?
    public var active: Bool?
    public var showDeleted: Bool
    public var pageSize: Int?
    public var pageToken: String?
    /// `email`, `create_time`, `last_login_time` and the like, optionally with ` desc`.
    public var orderBy: String?

    public init(
        text: String? = nil, role: Role? = nil, active: Bool? = nil, showDeleted: Bool = false, pageSize: Int? = nil,
        pageToken: String? = nil, orderBy: String? = nil
    ) {
        self.text = text
        self.role = role
        self.active = active
        self.showDeleted = showDeleted
        self.pageSize = pageSize
        self.pageToken = pageToken
        self.orderBy = orderBy
    }
}

/// The fields of an account an admin may change; nil leaves a field as it is.
public struct UserUpdate: Sendable, Hashable, Codable {
    public var firstName: String?
    public var lastName: String?
    public var role: Role?
    public var isActive: Bool?

    public init(firstName: String? = nil, lastName: String? = nil, role: Role? = nil, isActive: Bool? = nil) {
        self.firstName = firstName
        self.lastName = lastName
        self.role = role
        self.isActive = isActive
    }

    /// True when nothing would change.
    public var isEmpty: Bool { firstName == nil && lastName == nil && role == nil && isActive == nil }
}

/// A new account made by an admin.
public struct NewUser: Sendable, Hashable, Codable {
    public var email: String
    public var password: String
    public var firstName: String
    public var lastName: String
    public var role: Role

    public init(email: String, password: String, firstName: String, lastName: String, role: Role = .user) {
        self.email = email
        self.password = password
        self.firstName = firstName
        self.lastName = lastName
        self.role = role
    }
}

/// A blocked address or range.
public struct BlockedIP: Sendable, Hashable, Codable {
    public var ipAddress: String
    public var reason: String
    public var attempts: Int
    /// Nil when permanent.
    public var blockedUntil: Date?
    public var permanent: Bool
    public var createTime: Date?
    public var createdBy: String
}

/// Why a login failed.
public enum LoginFailureReason: String, Sendable, Hashable, Codable {
    case invalidCredentials = "invalid_credentials"
    case accountLocked = "account_locked"
    case accountDisabled = "account_disabled"
    case ipBlocked = "ip_blocked"
    case rateLimited = "rate_limited"
}

/// One recorded login.
public struct LoginAttempt: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var email: String
    public var ipAddress: String
    public var success: Bool
    public var failureReason: LoginFailureReason?
    public var userID: String
    public var sessionID: String
    public var userAgent: String
    public var deviceName: String
    public var time: Date?
}

/// One entry of the audit log.
public struct AuditEntry: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var action: String
    public var actorUserID: String
    public var resourceType: String
    public var resourceID: String
    public var details: [String: String]
    public var ipAddress: String
    public var time: Date?
}

/// Aggregated security figures over a window.
public struct SecurityMetrics: Sendable, Hashable, Codable {
    public var window: Duration
    public var loginAttempts: Int
    public var failedLogins: Int
    public var successfulLogins: Int
    public var uniqueIPs: Int
    public var activeBlockedIPs: Int
    public var lockedAccounts: Int
    public var activeSessions: Int
    public var topFailingIPs: [String: Int]
    public var failuresPerMinute: [Int]
}

/// The kinds of security event a stream can be filtered to.
public enum SecurityEventType: String, Sendable, Hashable, Codable, CaseIterable {
    case loginAttempt = "login_attempt"
    case ipBlocked = "ip_blocked"
    case ipUnblocked = "ip_unblocked"
    case accountLocked = "account_locked"
    case refreshTokenReused = "refresh_token_reused"
    case auditLog = "audit_log"
    case securityMetrics = "security_metrics"
}

/// One event of the security stream.
public struct SecurityEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        case loginAttempt(LoginAttempt)
        case ipBlocked(BlockedIP)
        case ipUnblocked(ipAddress: String, reason: String, unblockedBy: String)
        case accountLocked(email: String, userID: String, failedAttempts: Int, lockedUntil: Date?, ipAddress: String)
        case refreshTokenReused(userID: String, sessionID: String, ipAddress: String)
        case auditLog(AuditEntry)
        /// A periodic snapshot (sequence 0: not persisted).
        case securityMetrics(SecurityMetrics)
    }

    /// Strictly increasing for persisted events; 0 for metrics snapshots.
    public var sequence: UInt64
    public var time: Date?
    public var kind: Kind

    /// The type used to filter streams.
    public var type: SecurityEventType {
        switch kind {
        case .loginAttempt: .loginAttempt
        case .ipBlocked: .ipBlocked
        case .ipUnblocked: .ipUnblocked
        case .accountLocked: .accountLocked
        case .refreshTokenReused: .refreshTokenReused
        case .auditLog: .auditLog
        case .securityMetrics: .securityMetrics
        }
    }
}

/// Which sessions a sign-out ends.
public enum SignOutScope: Sendable, Hashable {
    /// This client's session.
    case current
    /// Every other session of the account.
    case others
    /// Every session of the account, this one included.
    case all
}

/// A value read through the offline cache.
public struct Cached<Value: Sendable>: Sendable {
    /// The value.
    public var value: Value
    /// When it was fetched from the server.
    public var fetchedTime: Date
    /// True when the server could not be reached and the value comes from the cache.
    public var isStale: Bool

    public init(value: Value, fetchedTime: Date, isStale: Bool) {
        self.value = value
        self.fetchedTime = fetchedTime
        self.isStale = isStale
    }

    /// How old the value is at `now`.
    public func age(at now: Date = Date()) -> TimeInterval { now.timeIntervalSince(fetchedTime) }
}

extension Cached: Equatable where Value: Equatable {}

/// Who this client is signed in as.
public struct Account: Sendable, Hashable, Codable {
    public var userID: String
    public var email: String
    public var role: Role
    public var sessionID: String
}

/// Describes the app to the server (shown in the account's session list).
public struct ClientInfo: Sendable, Hashable, Codable {
    public var deviceName: String
    public var platform: String
    public var appVersion: String
    public var userAgent: String

    public init(
        deviceName: String = "", platform: String = "", appVersion: String = "", userAgent: String = "classy-sdk"
    ) {
        self.deviceName = deviceName
        self.platform = platform
        self.appVersion = appVersion
        self.userAgent = userAgent
    }
}
