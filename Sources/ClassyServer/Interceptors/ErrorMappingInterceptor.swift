import ClassyCore
import ClassyStore
import GRPCCore
import Logging

/// Innermost: turns store errors and unexpected errors thrown by handlers into the API's errors,
/// so clients always get a status code and ErrorInfo from the table and never internal details.
struct ErrorMappingInterceptor: ServerInterceptor {
    let logger: Logger

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let logger = self.logger
        do {
            var response = try await next(request, context)
            if case .success(var contents) = response.accepted {
                let producer = contents.producer
                contents.producer = { writer in
                    do {
                        return try await producer(writer)
                    } catch {
                        throw Self.map(error, logger: logger)
                    }
                }
                response.accepted = .success(contents)
            } else if case .failure(let error) = response.accepted {
                response.accepted = .failure(Self.map(error, logger: logger))
            }
            return response
        } catch {
            throw Self.map(error, logger: logger)
        }
    }

    /// The API error for anything a handler may throw.
    static func map(_ error: any Error, logger: Logger) -> RPCError {
        switch error {
        case let error as ClassyError:
            return RPCError(error)
        case let error as StoreError:
            return RPCError(ClassyError(storeError: error, logger: logger))
        case let error as RPCError:
            if error.code == .cancelled || error.code == .deadlineExceeded || error.code == .resourceExhausted {
                return error
            }
            if let cause = error.cause, cause is StoreError || cause is ClassyError {
                return map(cause, logger: logger)
            }
            return error
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the RPC was cancelled")
        default:
            let requestID = RequestContext.current?.requestID ?? "-"
            logger.error("unexpected error", metadata: ["error": "\(error)", "request_id": "\(requestID)"])
            return RPCError(ClassyError(.internal, "internal error (request id \(requestID))"))
        }
    }
}

extension ClassyError {
    /// The API error for a store error.
    init(storeError error: StoreError, logger: Logger) {
        switch error.code {
        case .emailTaken: self.init(.emailTaken, "this email is already registered")
        case .notFound: self.init(.notFound, "not found")
        case .etagMismatch: self.init(.etagMismatch, "the etag is stale: read the record again")
        case .unavailable:
            logger.error("store unavailable", metadata: ["error": "\(error)"])
            self.init(.storeUnavailable, "the store is unavailable", retryAfter: .seconds(1))
        default:
            logger.error("store error", metadata: ["error": "\(error)"])
            self.init(.internal, "internal error (request id \(RequestContext.current?.requestID ?? "-"))")
        }
    }
}
