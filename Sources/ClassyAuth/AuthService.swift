import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation
import GRPCCore
import Logging

/// `auth.v1.AuthService`: every RPC answers UNIMPLEMENTED until it is built.
public struct AuthService: Classy_Auth_V1_AuthService.SimpleServiceProtocol {
    let store: any ClassyStoreProtocol
    let tokens: TokenService
    let passwordHasher: any PasswordHasher
    let clock: any WallClock
    let configuration: AuthConfiguration
    let logger: Logger

    public init(
        store: any ClassyStoreProtocol,
        tokens: TokenService,
        passwordHasher: any PasswordHasher,
        clock: any WallClock,
        configuration: AuthConfiguration,
        logger: Logger
    ) {
        self.store = store
        self.tokens = tokens
        self.passwordHasher = passwordHasher
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    public func register(
        request: Classy_Auth_V1_RegisterRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_RegisterResponse {
        throw ClassyError(.unimplemented, "Register is not implemented yet")
    }

    public func login(
        request: Classy_Auth_V1_LoginRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_LoginResponse {
        throw ClassyError(.unimplemented, "Login is not implemented yet")
    }

    public func refresh(
        request: Classy_Auth_V1_RefreshRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_RefreshResponse {
        throw ClassyError(.unimplemented, "Refresh is not implemented yet")
    }

    public func logout(
        request: Classy_Auth_V1_LogoutRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_LogoutResponse {
        throw ClassyError(.unimplemented, "Logout is not implemented yet")
    }

    public func changePassword(
        request: Classy_Auth_V1_ChangePasswordRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_ChangePasswordResponse {
        throw ClassyError(.unimplemented, "ChangePassword is not implemented yet")
    }

    public func listSessions(
        request: Classy_Auth_V1_ListSessionsRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_ListSessionsResponse {
        throw ClassyError(.unimplemented, "ListSessions is not implemented yet")
    }

    public func revokeSession(
        request: Classy_Auth_V1_RevokeSessionRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_RevokeSessionResponse {
        throw ClassyError(.unimplemented, "RevokeSession is not implemented yet")
    }

    public func introspectToken(
        request: Classy_Auth_V1_IntrospectTokenRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_IntrospectTokenResponse {
        throw ClassyError(.unimplemented, "IntrospectToken is not implemented yet")
    }

    public func getSigningKeys(
        request: Classy_Auth_V1_GetSigningKeysRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_GetSigningKeysResponse {
        throw ClassyError(.unimplemented, "GetSigningKeys is not implemented yet")
    }

    public func issueServiceToken(
        request: Classy_Auth_V1_IssueServiceTokenRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_IssueServiceTokenResponse {
        throw ClassyError(.unimplemented, "IssueServiceToken is not implemented yet")
    }

    public func createServiceAccount(
        request: Classy_Auth_V1_CreateServiceAccountRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_CreateServiceAccountResponse {
        throw ClassyError(.unimplemented, "CreateServiceAccount is not implemented yet")
    }

    public func listServiceAccounts(
        request: Classy_Auth_V1_ListServiceAccountsRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_ListServiceAccountsResponse {
        throw ClassyError(.unimplemented, "ListServiceAccounts is not implemented yet")
    }

    public func deleteServiceAccount(
        request: Classy_Auth_V1_DeleteServiceAccountRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_DeleteServiceAccountResponse {
        throw ClassyError(.unimplemented, "DeleteServiceAccount is not implemented yet")
    }
}
