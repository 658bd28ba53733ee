import ClassyCore
import GRPCCore

/// Applies ``RPCPolicies/table``: the caller's role must be allowed to call the RPC.
struct AuthorizationInterceptor: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard let policy = RPCPolicies.policy(for: context.descriptor) else {
            throw ClassyError(
                .forbidden, "\(context.descriptor.fullyQualifiedMethod) is not in the authorization table")
        }
        if policy.access.requiresAuthentication {
            let caller = try RequestContext.requireCaller()
            guard policy.access.allows(caller.role) else {
                throw ClassyError(
                    .forbidden,
                    "role \(caller.role.claim) may not call \(context.descriptor.method)"
                )
            }
        }
        return try await next(request, context)
    }
}
