import ClassyAPI
import ClassyCore
import Foundation
import GRPCCore
import Synchronization

/// The serving status of the server and its services, shared by the health service and the
/// code that starts and stops them.
public final class HealthStatus: Sendable {
    /// A serving status.
    public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    /// The service names that are reported: "" (the whole server) and each gRPC service.
    public static let serviceNames = [
        "", "classy.auth.v1.AuthService", "classy.users.v1.UsersService",
        "classy.monitoring.v1.MonitoringService",
    ]

    private struct State {
        var statuses: [String: Status]
        var watchers: [UUID: (service: String, continuation: AsyncStream<Status>.Continuation)] = [:]
    }

    private let state: Mutex<State>

    /// Every known service starts NOT_SERVING.
    public init() {
        state = Mutex(State(statuses: Dictionary(uniqueKeysWithValues: Self.serviceNames.map { ($0, .notServing) })))
    }

    /// The status of a service; nil if the name is unknown.
    public func status(of service: String) -> Status? {
        state.withLock { $0.statuses[service] }
    }

    /// Sets every known service to `status` and tells the watchers.
    public func setAll(_ status: Status) {
        state.withLock { state in
            for name in state.statuses.keys { state.statuses[name] = status }
            for watcher in state.watchers.values { watcher.continuation.yield(status) }
        }
    }

    /// The current status of `service` followed by each change, until the stream is dropped.
    func updates(of service: String) -> AsyncStream<Status> {
        let id = UUID.random()
        let (stream, continuation) = AsyncStream.makeStream(of: Status.self, bufferingPolicy: .bufferingNewest(1))
        state.withLock { state in
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            state.watchers[id] = (service, continuation)
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Ends every Watch stream (at shutdown).
    func finishWatchers() {
        let continuations = state.withLock { state in
            defer { state.watchers.removeAll() }
            return state.watchers.values.map(\.continuation)
        }
        for continuation in continuations { continuation.finish() }
    }
}

/// The standard `grpc.health.v1.Health` service.
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    let status: HealthStatus

    func check(
        request: Grpc_Health_V1_HealthCheckRequest,
        context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard let current = status.status(of: request.service) else {
            throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
        }
        return .with { $0.status = current }
    }

    func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        var last: HealthStatus.Status?
        for await current in status.updates(of: request.service) where current != last {
            last = current
            try await response.write(.with { $0.status = current })
        }
    }
}
