import ClassyAuth
import ClassyCore
import GRPCCore

/// Turns `authorization: Bearer <token>` into the caller of the RPC.
///
/// RPCs that need no token pass through (a token they carry is ignored). For the others a
/// missing, malformed or badly signed token is TOKEN_INVALID, an expired one TOKEN_EXPIRED, and a
/// token whose session was revoked (or whose user was deactivated or deleted) SESSION_REVOKED.
struct AuthenticationInterceptor: ServerInterceptor {
    let authenticator: any CallerAuthenticator

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard let policy = RPCPolicies.policy(for: context.descriptor), policy.access.requiresAuthentication,
            var requestContext = RequestContext.current
        else {
            return try await next(request, context)
        }
        let token = try Self.bearerToken(in: request.metadata)
        (requestContext.caller, requestContext.account) = try await authenticator.authenticateWithAccount(
            accessToken: token
        )
        return try await withRequestContext(requestContext, request: request, serverContext: context, next: next)
    }

    /// The token of `authorization: Bearer <token>`.
    static func bearerToken(in metadata: Metadata) throws(ClassyError) -> String {
        let values = Array(metadata[stringValues: "authorization"])
        guard let value = values.first else {
            throw ClassyError(
                .tokenInvalid, "missing authorization metadata: send 'authorization: Bearer <access token>'")
        }
        guard values.count == 1 else { throw ClassyError(.tokenInvalid, "more than one authorization value") }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].utf8.count == 6, parts[0].lowercased() == "bearer", !parts[1].isEmpty,
            parts[1].utf8.count <= 8192
        else {
            throw ClassyError(.tokenInvalid, "authorization must be 'Bearer <access token>'")
        }
        return parts[1].trimmingBlanks()
    }
}

/// Resolves an access token to its caller, or throws TOKEN_INVALID / TOKEN_EXPIRED / SESSION_REVOKED.
protocol CallerAuthenticator: Sendable {
    /// The caller the token speaks for, with the role it has now.
    func authenticate(accessToken: String) async throws -> Caller
    /// The caller, with the account record read to check it (if any).
    func authenticateWithAccount(accessToken: String) async throws -> (Caller, (any Sendable)?)
}

extension CallerAuthenticator {
    func authenticateWithAccount(accessToken: String) async throws -> (Caller, (any Sendable)?) {
        (try await authenticate(accessToken: accessToken), nil)
    }
}

extension AccessTokenAuthenticator: CallerAuthenticator {
    func authenticateWithAccount(accessToken: String) async throws -> (Caller, (any Sendable)?) {
        let (caller, account) = try await authenticateReturningAccount(accessToken: accessToken)
        return (caller, account)
    }
}
