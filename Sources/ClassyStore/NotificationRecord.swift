import ClassyCore
import Foundation

/// A stored notification to a user.
public struct NotificationRecord: Sendable, Equatable, Hashable {
    /// The notification's UUID.
    public var id: String
    /// The recipient's user id.
    public var userID: String
    /// The kind (the service layer's `NotificationKind` name).
    public var kind: String
    /// A short title.
    public var title: String
    /// The body text.
    public var body: String
    /// Structured data for the client.
    public var data: [String: String]
    /// When it was created.
    public var createTime: Date
    /// Whether the user has read it.
    public var read: Bool
    /// The position of the notification: monotonic per user (and globally), assigned at commit.
    public var cursor: Int64

    /// Creates a notification record.
    public init(
        id: String,
        userID: String,
        kind: String,
        title: String,
        body: String,
        data: [String: String],
        createTime: Date,
        read: Bool,
        cursor: Int64
    ) {
        self.id = id
        self.userID = userID
        self.kind = kind
        self.title = title
        self.body = body
        self.data = data
        self.createTime = createTime
        self.read = read
        self.cursor = cursor
    }
}

/// A notification to create; the store assigns its cursor at commit.
public struct NewNotification: Sendable, Equatable, Hashable {
    /// The notification's UUID.
    public var id: String
    /// The recipient's user id.
    public var userID: String
    /// The kind.
    public var kind: String
    /// A short title.
    public var title: String
    /// The body text.
    public var body: String
    /// Structured data for the client.
    public var data: [String: String]
    /// When it was created.
    public var createTime: Date

    /// Creates a notification to store.
    public init(
        id: String = UUID.randomLowercasedString(),
        userID: String,
        kind: String,
        title: String,
        body: String,
        data: [String: String] = [:],
        createTime: Date
    ) {
        self.id = id
        self.userID = userID
        self.kind = kind
        self.title = title
        self.body = body
        self.data = data
        self.createTime = createTime
    }
}

/// One page of a user's notifications, newest first, with the user's unread count.
public struct NotificationPage: Sendable, Equatable {
    /// The notifications of this page, newest first.
    public var notifications: [NotificationRecord]
    /// The user's unread notifications in total.
    public var unreadCount: Int

    /// Creates a page.
    public init(notifications: [NotificationRecord], unreadCount: Int) {
        self.notifications = notifications
        self.unreadCount = unreadCount
    }
}

/// Which notifications to mark as read.
public enum NotificationSelection: Sendable, Hashable {
    /// These ids (ids of other users are ignored).
    case ids([String])
    /// Every unread notification of the user.
    case all
}
