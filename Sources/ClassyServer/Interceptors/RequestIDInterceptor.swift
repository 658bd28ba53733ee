import ClassyCore
import ClassyStore
import Foundation
import GRPCCore
import Logging

/// First in the pipeline: assigns the request id, resolves the client IP, logs each RPC's outcome
/// and duration, and echoes `x-request-id` in the response's initial metadata.
struct RequestIDInterceptor: ServerInterceptor {
    let resolver: ClientAddressResolver
    let logger: Logger
    let metrics: RPCMetrics?

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let given = request.metadata[stringValues: "x-request-id"].first { _ in true }
        let requestID = given.flatMap { $0.count <= 128 && !$0.isEmpty ? $0 : nil } ?? UUID.randomLowercasedString()
        let clientIP = resolver.clientIP(
            peer: context.remotePeer,
            forwardedFor: Array(request.metadata[stringValues: "x-forwarded-for"])
        )
        let requestContext = RequestContext(
            requestID: requestID,
            clientIP: clientIP,
            caller: nil,
            method: context.descriptor.fullyQualifiedMethod
        )
        // The RPC's logger carries its request id, method and client IP. It is made only when something is logged:
        // swift-log's StreamLogHandler renders its metadata whenever it changes, on every RPC otherwise.
        let logger = RPCLogger(
            base: self.logger, requestID: requestID, method: context.descriptor.fullyQualifiedMethod,
            clientIP: clientIP)
        let start = ContinuousClock.now
        let metrics = self.metrics
        let method = context.descriptor.fullyQualifiedMethod
        do {
            var response = try await withRequestContext(
                requestContext, request: request, serverContext: context, next: next
            )
            response.metadata.replaceOrAddString(requestID, forKey: "x-request-id")
            if case .failure(var error) = response.accepted {
                if Self.isStoreError(error) {
                    error = ErrorMappingInterceptor.map(error, logger: logger.make())
                    error.metadata.replaceOrAddString(requestID, forKey: "x-request-id")
                    response.accepted = .failure(error)
                }
                log(error, after: start, logger: logger, metrics: metrics, method: method)
            } else if case .success(var contents) = response.accepted {
                let producer = contents.producer
                contents.producer = { writer in
                    do {
                        let trailers = try await producer(writer)
                        log(nil, after: start, logger: logger, metrics: metrics, method: method)
                        return trailers
                    } catch {
                        log(error, after: start, logger: logger, metrics: metrics, method: method)
                        throw error
                    }
                }
                response.accepted = .success(contents)
            }
            return response
        } catch {
            // Interceptors outside the error mapping (authentication reads the store) may throw store errors:
            // UNAVAILABLE / STORE_UNAVAILABLE for them, as for handlers.
            var rpcError =
                Self.isStoreError(error)
                ? ErrorMappingInterceptor.map(error, logger: logger.make())
                : (error as? any RPCErrorConvertible).map { RPCError($0) }
                    ?? RPCError(code: .unknown, message: "\(error)", cause: error)
            rpcError.metadata.replaceOrAddString(requestID, forKey: "x-request-id")
            log(rpcError, after: start, logger: logger, metrics: metrics, method: method)
            return StreamingServerResponse(error: rpcError)
        }
    }

    private func log(
        _ error: (any Error)?,
        after start: ContinuousClock.Instant,
        logger rpcLogger: RPCLogger,
        metrics: RPCMetrics?,
        method: String
    ) {
        let elapsed = ContinuousClock.now - start
        if let metrics {
            let code: String
            switch error {
            case nil: code = "ok"
            case let error as ClassyError: code = "\(error.code.status)"
            case let error as RPCError: code = "\(error.code)"
            default: code = "unknown"
            }
            metrics.record(method: method, code: code, duration: elapsed)
        }
        // Successes are logged at debug level only: format nothing for them unless it is on.
        guard error != nil || rpcLogger.base.logLevel <= .debug else { return }
        let logger = rpcLogger.make()
        let millis = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        var metadata: Logger.Metadata = ["duration_ms": "\(String(format: "%.2f", millis))"]
        guard let error else {
            metadata["status"] = "OK"
            logger.debug("rpc finished", metadata: metadata)
            return
        }
        if let error = error as? ClassyError {
            metadata["status"] = "\(error.code.status)"
            metadata["reason"] = "\(error.code.reason)"
        } else if let error = error as? RPCError {
            metadata["status"] = "\(error.code)"
            if let cause = error.cause as? ClassyError { metadata["reason"] = "\(cause.code.reason)" }
        }
        metadata["error"] = "\(error)"
        logger.info("rpc failed", metadata: metadata)
    }

    /// What an RPC's logger is made of; ``make()`` makes it when there is something to log.
    struct RPCLogger: Sendable {
        var base: Logger
        var requestID: String
        var method: String
        var clientIP: String

        /// The base logger with the RPC's request id, method and client IP (one change of the handler's metadata).
        func make() -> Logger {
            var logger = base
            logger.handler.metadata.merge(
                ["request_id": "\(requestID)", "method": "\(method)", "client_ip": "\(clientIP)"],
                uniquingKeysWith: { _, new in new }
            )
            return logger
        }
    }

    /// A store error, bare or wrapped by the RPC framework (an interceptor outside the error mapping threw it).
    static func isStoreError(_ error: any Error) -> Bool {
        if error is StoreError { return true }
        if let error = error as? RPCError, error.code == .unknown, error.cause is StoreError { return true }
        return false
    }
}
