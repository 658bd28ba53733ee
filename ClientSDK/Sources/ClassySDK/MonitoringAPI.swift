internal import ClassyAPI
import Foundation
internal import GRPCCore
internal import SwiftProtobuf

/// Security monitoring for admins: blocks, unlocks, metrics, login attempts and the live event stream.
public struct MonitoringAPI: Sendable {
    let client: ClassyClient

    /// Blocks an address or CIDR range (for `duration`, or for good), through the outbox.
    public func blockIP(
        _ ipAddress: String, reason: String, duration: Duration? = nil
    ) async throws
        -> MutationOutcome<BlockedIP>
    {
        switch try await client.sync.submit(
            .blockIP(ipAddress: ipAddress, reason: reason, durationSeconds: duration.map { $0.components.seconds }),
            client: client
        ) {
        case .applied(.blockedIP(let blocked)): return .applied(blocked)
        case .applied:
            throw ClassyClientError(status: .internalError, reason: "CLIENT", message: "no block in the answer")
        case .queued(let pending): return .queued(pending)
        case .conflicted(let conflict): return .conflicted(conflict)
        }
    }

    /// Lifts a block, through the outbox.
    public func unblockIP(_ ipAddress: String, reason: String) async throws -> MutationOutcome<Void> {
        try await submitVoid(.unblockIP(ipAddress: ipAddress, reason: reason))
    }

    /// Lifts the brute-force lock of an email, through the outbox.
    public func unlockAccount(email: String) async throws -> MutationOutcome<Void> {
        try await submitVoid(.unlockAccount(email: email))
    }

    private func submitVoid(_ operation: MutationOperation) async throws -> MutationOutcome<Void> {
        switch try await client.sync.submit(operation, client: client) {
        case .applied: return .applied(())
        case .queued(let pending): return .queued(pending)
        case .conflicted(let conflict): return .conflicted(conflict)
        }
    }

    /// The blocks in force (and expired ones when asked).
    public func blockedIPs(includeExpired: Bool = false) async throws -> [BlockedIP] {
        var result: [BlockedIP] = []
        var pageToken = ""
        repeat {
            let token = pageToken
            let page = try await client.authorized { metadata in
                try await client.monitoring_.listBlockedIPs(
                    .with {
                        $0.pageSize = 500
                        $0.pageToken = token
                        $0.includeExpired = includeExpired
                    },
                    metadata: metadata, options: client.unaryOptions
                )
            }
            result += page.blockedIps.map(BlockedIP.init)
            pageToken = page.nextPageToken
        } while !pageToken.isEmpty
        return result
    }

    /// Security figures over `window` (the server's default, 1 h, when nil).
    public func metrics(window: Duration? = nil) async throws -> SecurityMetrics {
        SecurityMetrics(
            try await client.authorized { metadata in
                try await client.monitoring_.getSecurityMetrics(
                    .with { if let window { $0.window = Google_Protobuf_Duration(window) } },
                    metadata: metadata, options: client.unaryOptions
                )
            }.metrics
        )
    }

    /// Recent login attempts, newest first, optionally filtered.
    public func loginAttempts(
        email: String? = nil, ipAddress: String? = nil, pageSize: Int = 50
    ) async throws
        -> [LoginAttempt]
    {
        try await client.authorized { metadata in
            try await client.monitoring_.listLoginAttempts(
                .with {
                    $0.pageSize = Int32(clamping: pageSize)
                    $0.email = email ?? ""
                    $0.ipAddress = ipAddress ?? ""
                },
                metadata: metadata, options: client.unaryOptions
            )
        }.attempts.map(LoginAttempt.init)
    }

    /// Security events as they happen (StreamSecurityEvents), reconnecting with jittered backoff.
    ///
    /// After a disconnect or a server restart the stream resumes after the last sequence it delivered,
    /// so nothing is missed or repeated. Heartbeats are not delivered.
    ///
    /// - Parameters:
    ///   - types: the kinds to receive; all when empty.
    ///   - after: replay persisted events after this sequence first; nil starts with new events.
    ///   - metricsInterval: also deliver a metrics snapshot this often.
    public func securityEvents(
        types: Set<SecurityEventType> = [], after: UInt64? = nil, metricsInterval: Duration? = nil
    ) -> AsyncThrowingStream<SecurityEvent, any Error> {
        let client = self.client
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await Self.streamLoop(
                        client: client, types: types, after: after, metricsInterval: metricsInterval
                    ) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private static func streamLoop(
        client: ClassyClient, types: Set<SecurityEventType>, after: UInt64?, metricsInterval: Duration?,
        deliver: @escaping @Sendable (SecurityEvent) -> Void
    ) async throws {
        let position = LockedBox<UInt64?>(after)
        var failures = 0
        let apiTypes = types.map(\.api)
        while !Task.isCancelled && !client.isClosed {
            let start = position.value
            do {
                try await client.authorized { metadata in
                    try await client.monitoring_.streamSecurityEvents(
                        .with {
                            $0.types = apiTypes
                            if let start { $0.afterSequence = start }
                            if let metricsInterval { $0.metricsInterval = Google_Protobuf_Duration(metricsInterval) }
                        },
                        metadata: metadata
                    ) { response in
                        for try await message in response.messages {
                            guard let event = SecurityEvent(message) else { continue }
                            if event.sequence > 0 { position.value = event.sequence }
                            deliver(event)
                        }
                    }
                }
                // The server ended the stream (shutdown): reconnect.
            } catch let error as ClassyClientError where error.isTransient {
                // Offline, restarting, or too slow (STREAM_OVERFLOW): resume from the last sequence.
            } catch let error as ClassyClientError where error.status == .cancelled {
                return
            }
            if position.value != start { failures = 0 }
            try await Task.sleep(for: client.configuration.backoff.delay(attempt: failures))
            failures += 1
        }
    }
}
