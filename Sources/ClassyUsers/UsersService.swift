import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore
import Logging

/// `users.v1.UsersService`: every RPC answers UNIMPLEMENTED until it is built.
public struct UsersService: Classy_Users_V1_UsersService.SimpleServiceProtocol {
    let store: any ClassyStoreProtocol
    let clock: any WallClock
    let passwordHasher: any PasswordHasher
    let logger: Logger

    public init(
        store: any ClassyStoreProtocol,
        clock: any WallClock,
        passwordHasher: any PasswordHasher,
        logger: Logger
    ) {
        self.store = store
        self.clock = clock
        self.passwordHasher = passwordHasher
        self.logger = logger
    }

    public func getMe(
        request: Classy_Users_V1_GetMeRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_GetMeResponse {
        throw ClassyError(.unimplemented, "GetMe is not implemented yet")
    }

    public func updateMe(
        request: Classy_Users_V1_UpdateMeRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_UpdateMeResponse {
        throw ClassyError(.unimplemented, "UpdateMe is not implemented yet")
    }

    public func listUsers(
        request: Classy_Users_V1_ListUsersRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_ListUsersResponse {
        throw ClassyError(.unimplemented, "ListUsers is not implemented yet")
    }

    public func getUser(
        request: Classy_Users_V1_GetUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_GetUserResponse {
        throw ClassyError(.unimplemented, "GetUser is not implemented yet")
    }

    public func createUser(
        request: Classy_Users_V1_CreateUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_CreateUserResponse {
        throw ClassyError(.unimplemented, "CreateUser is not implemented yet")
    }

    public func updateUser(
        request: Classy_Users_V1_UpdateUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_UpdateUserResponse {
        throw ClassyError(.unimplemented, "UpdateUser is not implemented yet")
    }

    public func deleteUser(
        request: Classy_Users_V1_DeleteUserRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_DeleteUserResponse {
        throw ClassyError(.unimplemented, "DeleteUser is not implemented yet")
    }

    public func listUserChanges(
        request: Classy_Users_V1_ListUserChangesRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_ListUserChangesResponse {
        throw ClassyError(.unimplemented, "ListUserChanges is not implemented yet")
    }

    public func listNotifications(
        request: Classy_Users_V1_ListNotificationsRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_ListNotificationsResponse {
        throw ClassyError(.unimplemented, "ListNotifications is not implemented yet")
    }

    public func markNotificationsRead(
        request: Classy_Users_V1_MarkNotificationsReadRequest,
        context: ServerContext
    ) async throws -> Classy_Users_V1_MarkNotificationsReadResponse {
        throw ClassyError(.unimplemented, "MarkNotificationsRead is not implemented yet")
    }

    public func watchNotifications(
        request: Classy_Users_V1_WatchNotificationsRequest,
        response: GRPCCore.RPCWriter<Classy_Users_V1_Notification>,
        context: ServerContext
    ) async throws {
        throw ClassyError(.unimplemented, "WatchNotifications is not implemented yet")
    }
}
