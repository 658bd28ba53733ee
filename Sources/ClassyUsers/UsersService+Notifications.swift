import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore

extension UsersService {
    /// ListNotifications: the caller's notifications newest first, with their unread count.
    public func listNotifications(
        request: Classy_Users_V1_ListNotificationsRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_ListNotificationsResponse {
        let caller = try RequestContext.requireCaller()
        let listing = try NotificationListing(validating: request)
        let page = try await store.listNotifications(
            userID: caller.userID,
            unreadOnly: listing.unreadOnly,
            before: listing.before,
            limit: listing.pageSize + 1
        )
        let notifications = page.notifications.prefix(listing.pageSize)
        return .with {
            $0.notifications = notifications.map(\.api)
            if page.notifications.count > listing.pageSize, let last = notifications.last {
                $0.nextPageToken = listing.token(after: last)
            }
            $0.unreadCount = Int32(clamping: page.unreadCount)
        }
    }

    /// MarkNotificationsRead: the named notifications of the caller, or all; returns how many changed.
    public func markNotificationsRead(
        request: Classy_Users_V1_MarkNotificationsReadRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_MarkNotificationsReadResponse {
        let caller = try RequestContext.requireCaller()
        let marking = try NotificationMarking(validating: request)
        let updated = try await store.markNotificationsRead(userID: caller.userID, marking.selection)
        return .with { $0.updatedCount = Int32(clamping: updated) }
    }

    /// WatchNotifications: replays the caller's notifications after the cursor, then streams new ones
    /// live, with heartbeats, until the client cancels, the server shuts down or the session ends.
    public func watchNotifications(
        request: Classy_Users_V1_WatchNotificationsRequest,
        response: GRPCCore.RPCWriter<Classy_Users_V1_Notification>,
        context: ServerContext
    ) async throws {
        let caller = try RequestContext.requireCaller()
        let after = try NotificationRecord.sequence(ofCursor: request.afterCursor, field: "after_cursor")
        let watch = NotificationWatch(
            store: store,
            clock: clock,
            caller: caller,
            heartbeatInterval: heartbeatInterval,
            logger: logger
        )
        try await watch.run(after: after, writer: response, cancellation: context.cancellation, watchers: watchers)
    }
}
