import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore
import Logging

/// `users.v1.UsersService`: profiles, user administration, the user change feed and notifications.
///
/// The RPCs live in extensions by concern: `UsersService+Profile` (GetMe, UpdateMe),
/// `UsersService+Administration` (ListUsers, GetUser, CreateUser, UpdateUser, DeleteUser),
/// `UsersService+Changes` (ListUserChanges) and `UsersService+Notifications`.
/// The caller comes from `RequestContext.current`, which the request path binds after authenticating
/// and authorizing against ``RPCPolicies/table``; target-dependent rules are ``UserManagementPolicy``'s.
public struct UsersService: Classy_Users_V1_UsersService.SimpleServiceProtocol {
    let store: any ClassyStoreProtocol
    let clock: any WallClock
    let passwordHasher: any PasswordHasher
    let logger: Logger
    let heartbeatInterval: Duration
    let watchers: NotificationWatchers

    /// Creates the service.
    ///
    /// - Parameter heartbeatInterval: how often an idle WatchNotifications stream gets a heartbeat
    ///   (15 s keeps streams alive through proxies; tests pass less).
    public init(
        store: any ClassyStoreProtocol,
        clock: any WallClock,
        passwordHasher: any PasswordHasher,
        logger: Logger = Logger(label: "classy.users"),
        heartbeatInterval: Duration = .seconds(15)
    ) {
        self.store = store
        self.clock = clock
        self.passwordHasher = passwordHasher
        self.logger = logger
        self.heartbeatInterval = heartbeatInterval
        self.watchers = NotificationWatchers()
    }

    /// Ends every open WatchNotifications stream cleanly and ends later ones at once.
    ///
    /// Call it when graceful shutdown begins: a gRPC server drains by waiting for open RPCs, and a
    /// notification stream never ends by itself. Clients resume after their last cursor elsewhere.
    public func finishNotificationStreams() {
        watchers.finishAll()
    }
}
