internal import ClassyAPI
import Foundation
internal import GRPCCore

/// The signed-in user's notifications: cached list, mark as read (through the outbox), live stream.
public struct NotificationsAPI: Sendable {
    let client: ClassyClient

    /// The latest notifications (up to 500) with the unread count (cached for offline reads).
    public func list(unreadOnly: Bool = false) async throws -> Cached<NotificationPage> {
        let now = client.configuration.now()
        do {
            let response = try await client.authorized { metadata in
                try await client.users_.listNotifications(
                    .with {
                        $0.pageSize = 500
                        $0.unreadOnly = unreadOnly
                    },
                    metadata: metadata, options: client.unaryOptions
                )
            }
            let notifications = response.notifications.map(UserNotification.init)
            let page = NotificationPage(
                notifications: notifications, unreadCount: Int(response.unreadCount),
                nextPageToken: response.nextPageToken.isEmpty ? nil : response.nextPageToken
            )
            if let cache = try await client.cache() {
                try cache.saveNotifications(notifications, advancingCursorTo: nil, now: now)
                try cache.put(now, at: OfflineCache.Key.notificationsPage, fetched: now)
            }
            return Cached(value: page, fetchedTime: now, isStale: false)
        } catch let error as ClassyClientError where error.isOffline {
            guard let cache = try await client.cache(),
                let fetched = try cache.get(Date.self, at: OfflineCache.Key.notificationsPage)?.fetched
                    ?? cache.get(String.self, at: OfflineCache.Key.notificationCursor)?.fetched
            else { throw error }
            let all = try cache.notifications(unreadOnly: false)
            let page = NotificationPage(
                notifications: unreadOnly ? all.filter { !$0.read } : all,
                unreadCount: all.filter { !$0.read }.count, nextPageToken: nil
            )
            return Cached(value: page, fetchedTime: fetched, isStale: true)
        }
    }

    /// Marks notifications read, through the outbox; returns how many changed.
    public func markRead(ids: [String]) async throws -> MutationOutcome<Int> {
        guard !ids.isEmpty else { throw ClassyClientError.invalidField("notification_ids", "name at least one") }
        return try await submit(.markNotificationsRead(ids: ids, all: false))
    }

    /// Marks every notification read, through the outbox.
    public func markAllRead() async throws -> MutationOutcome<Int> {
        try await submit(.markNotificationsRead(ids: [], all: true))
    }

    private func submit(_ operation: MutationOperation) async throws -> MutationOutcome<Int> {
        switch try await client.sync.submit(operation, client: client) {
        case .applied(.count(let count)): return .applied(count)
        case .applied: return .applied(0)
        case .queued(let pending): return .queued(pending)
        case .conflicted(let conflict): return .conflicted(conflict)
        }
    }

    /// New notifications as they arrive (WatchNotifications), kept in the cache.
    ///
    /// The stream resumes after the last notification it delivered: across reconnects (with jittered
    /// backoff while the server is unreachable or restarting) and, through the cache, across runs.
    /// A SESSION_REVOKED notification for this session (or a revoked session) signs the client out
    /// and ends the stream.
    ///
    /// - Parameter after: start after this cursor instead of the cached one; `""` replays from the start.
    public func watch(after: String? = nil) -> AsyncThrowingStream<UserNotification, any Error> {
        let client = self.client
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await Self.watchLoop(client: client, after: after) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private static func watchLoop(
        client: ClassyClient, after: String?, deliver: @escaping @Sendable (UserNotification) -> Void
    ) async throws {
        let cache = try await client.cache()
        let stored = try cache?.get(String.self, at: OfflineCache.Key.notificationCursor)?.value
        // nil: new notifications only (pinned to the newest one at the first connection).
        let cursor = LockedBox<String?>(after ?? stored)
        var failures = 0
        while !Task.isCancelled && !client.isClosed {
            guard let account = await client.credentials.account else { throw ClassyClientError.signedOut() }
            let start = cursor.value
            do {
                if cursor.value == nil {
                    // Pin the start to the newest notification so a reconnect cannot skip anything.
                    let newest = try await client.authorized { metadata in
                        try await client.users_.listNotifications(
                            .with { $0.pageSize = 1 }, metadata: metadata, options: client.unaryOptions
                        )
                    }
                    cursor.value = newest.notifications.first?.cursor ?? ""
                }
                let from = cursor.value ?? ""
                let revoked: Bool = try await client.authorized { metadata in
                    try await client.users_.watchNotifications(
                        .with { $0.afterCursor = from }, metadata: metadata
                    ) { response in
                        for try await message in response.messages {
                            if message.id.isEmpty { continue }  // heartbeat
                            let notification = UserNotification(message)
                            try? cache?.saveNotifications(
                                [notification], advancingCursorTo: notification.cursor, now: Date())
                            cursor.value = notification.cursor
                            deliver(notification)
                            if Self.endsSession(notification, of: account) { return true }
                        }
                        return false
                    }
                }
                if revoked {
                    await client.credentials.sessionEnded(.sessionRevoked, sessionID: account.sessionID)
                    return
                }
                // The server ended the stream (shutdown): reconnect.
            } catch let error as ClassyClientError where error.isTransient {
                // Offline or restarting: back off and resume from the last cursor.
            } catch let error as ClassyClientError where error.status == .cancelled {
                return
            }
            if cursor.value != start { failures = 0 }
            try await Task.sleep(for: client.configuration.backoff.delay(attempt: failures))
            failures += 1
        }
    }

    /// Whether a SESSION_REVOKED notification ends `account`'s session.
    static func endsSession(_ notification: UserNotification, of account: Account) -> Bool {
        guard notification.kind == .sessionRevoked else { return false }
        if let session = notification.data["session_id"] { return session == account.sessionID }
        if notification.data["scope"] == "all" { return true }
        // Logout of OTHERS / ALL from another session: ours ended unless we are the one that did it.
        if let by = notification.data["by_session_id"] { return by != account.sessionID }
        return false
    }
}
