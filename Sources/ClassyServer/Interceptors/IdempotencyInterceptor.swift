import ClassyCore
import ClassyStore
import Foundation
import GRPCCore
import SwiftProtobuf
import Synchronization

/// Replays the first response of a mutating RPC repeated with the same `idempotency-key` by the
/// same caller within 24 hours, without running the handler again.
///
/// Only successful unary responses are stored (a failed call may be retried with the same key).
/// A repeat that arrives while the first is still running gets ABORTED / IDEMPOTENCY_IN_PROGRESS
/// (per process; across replicas the store's insert-if-absent keeps the first response).
struct IdempotencyInterceptor: ServerInterceptor {
    static let retention: TimeInterval = 24 * 3600
    static let maxKeyLength = 128

    let store: any IdempotencyStore
    let clock: any WallClock
    private let inFlight = InFlightKeys()

    init(store: any IdempotencyStore, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard RPCPolicies.policy(for: context.descriptor)?.isMutating == true,
            let key = request.metadata[stringValues: "idempotency-key"].first(where: { _ in true }),
            let outputType = Output.self as? any SwiftProtobuf.Message.Type
        else {
            return try await next(request, context)
        }
        guard !key.isEmpty, key.count <= Self.maxKeyLength,
            !key.unicodeScalars.contains(where: FieldValidator.isControl)
        else {
            throw ClassyError.invalidField("idempotency-key", "must be 1 to \(Self.maxKeyLength) printable characters")
        }
        let requestContext = RequestContext.current
        let callerKey = requestContext?.caller.map { "user:\($0.userID)" } ?? "ip:\(requestContext?.clientIP ?? "-")"
        let method = context.descriptor.fullyQualifiedMethod
        let now = clock.now()
        let notBefore = now.addingTimeInterval(-Self.retention)

        if let stored = try await store.idempotencyRecord(callerKey: callerKey, key: key, notBefore: notBefore) {
            return try Self.replay(stored, method: method, as: outputType)
        }
        let slot = "\(callerKey)\u{0}\(key)"
        guard inFlight.insert(slot) else {
            throw ClassyError(.idempotencyInProgress, "a request with this idempotency-key is still in progress")
        }
        var released = false
        defer { if !released { inFlight.remove(slot) } }

        var response = try await next(request, context)
        guard case .success(var contents) = response.accepted else { return response }
        let producer = contents.producer
        let store = self.store
        let inFlight = self.inFlight
        released = true
        contents.producer = { writer in
            defer { inFlight.remove(slot) }
            let recorder = RecordingWriter(base: writer)
            let trailers = try await producer(RPCWriter(wrapping: recorder))
            if let message = recorder.single as? any SwiftProtobuf.Message {
                let record = IdempotencyRecord(
                    callerKey: callerKey, key: key, method: method,
                    responseBytes: try message.serializedBytes(), createTime: now
                )
                _ = try await store.saveIdempotencyRecord(record, notBefore: notBefore)
            }
            return trailers
        }
        response.accepted = .success(contents)
        return response
    }

    private static func replay<Output: Sendable>(
        _ stored: IdempotencyRecord,
        method: String,
        as type: any SwiftProtobuf.Message.Type
    ) throws -> StreamingServerResponse<Output> {
        guard stored.method == method else {
            throw ClassyError(
                .idempotencyKeyReused,
                "this idempotency-key was used for \(stored.method)",
                fieldViolations: [.init(field: "idempotency-key", description: "already used for another RPC")]
            )
        }
        guard let message = try type.init(serializedBytes: stored.responseBytes) as? Output else {
            throw ClassyError(.internal, "stored response does not match the RPC")
        }
        return StreamingServerResponse(
            single: ServerResponse(message: message, metadata: ["idempotency-replayed": "true"])
        )
    }
}

/// The keys of idempotent requests running in this process.
private final class InFlightKeys: Sendable {
    private let keys = Mutex(Set<String>())

    func insert(_ key: String) -> Bool { keys.withLock { $0.insert(key).inserted } }
    func remove(_ key: String) { _ = keys.withLock { $0.remove(key) } }
}

/// Passes messages through and remembers the only one of a unary response.
private final class RecordingWriter<Element: Sendable>: RPCWriterProtocol, Sendable {
    private let base: RPCWriter<Element>
    private let messages = Mutex<[Element]>([])

    init(base: RPCWriter<Element>) { self.base = base }

    var single: Element? { messages.withLock { $0.count == 1 ? $0.first : nil } }

    func write(_ element: Element) async throws {
        messages.withLock { $0.append(element) }
        try await base.write(element)
    }

    func write(contentsOf elements: some Sequence<Element>) async throws {
        for element in elements { try await write(element) }
    }
}
