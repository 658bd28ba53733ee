/// Per-user notifications, ordered by a monotonic cursor; created only as ``StoreEffects``.
public protocol NotificationStore: Sendable {
    /// Returns up to `limit` of the user's notifications with a cursor greater than `cursor`, ascending
    /// (replay for WatchNotifications).
    func notifications(userID: String, after cursor: Int64, limit: Int) async throws -> [NotificationRecord]

    /// Lists the user's notifications newest first, with a cursor below `before` when given, and the unread count.
    func listNotifications(
        userID: String, unreadOnly: Bool, before: Int64?, limit: Int
    ) async throws
        -> NotificationPage

    /// Counts the user's unread notifications.
    func unreadNotificationCount(userID: String) async throws -> Int

    /// Marks the selected unread notifications of the user as read; returns how many changed.
    func markNotificationsRead(userID: String, _ selection: NotificationSelection) async throws -> Int

    /// Returns the user's highest notification cursor (0 when there is none): the start of a live-only watch.
    func latestNotificationCursor(userID: String) async throws -> Int64
}
