import ClassyCore
import GRPCCore

extension StreamingServerResponse {
    /// Runs the response producer (where streaming handlers do their work) with `context` bound,
    /// so a task-local set by an interceptor is seen by unary and streaming handlers alike.
    func binding(_ context: RequestContext) -> Self {
        guard case .success(var contents) = accepted else { return self }
        let producer = contents.producer
        contents.producer = { writer in
            try await RequestContext.$current.withValue(context) { try await producer(writer) }
        }
        return StreamingServerResponse(accepted: .success(contents))
    }
}

/// Runs `next` with `context` bound for the interceptor call and the response producer.
func withRequestContext<Input: Sendable, Output: Sendable>(
    _ context: RequestContext,
    request: StreamingServerRequest<Input>,
    serverContext: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
) async throws -> StreamingServerResponse<Output> {
    try await RequestContext.$current.withValue(context) {
        try await next(request, serverContext).binding(context)
    }
}
