import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation
import GRPCCore
import SwiftProtobuf
import Synchronization

extension MonitoringService {
    /// Streams security events: the replay after `after_sequence`, then live events, interleaved with heartbeats
    /// (always) and metrics snapshots (when `metrics_interval` is set and the filter admits them).
    ///
    /// One task writes to the client; the heartbeat and metrics timers put their messages into the same bounded
    /// subscriber buffer as the events, so a client too slow for its buffer is ended with RESOURCE_EXHAUSTED /
    /// STREAM_OVERFLOW and resumes from the last sequence it received.
    public func streamSecurityEvents(
        request: Classy_Monitoring_V1_StreamSecurityEventsRequest,
        response: GRPCCore.RPCWriter<Classy_Monitoring_V1_SecurityEvent>,
        context: ServerContext
    ) async throws {
        let filter = try StreamFilter(request.types)
        var metricsInterval: Duration?
        if request.hasMetricsInterval {
            let interval = request.metricsInterval.timeInterval
            guard interval >= 0 else { throw ClassyError.invalidField("metrics_interval", "must not be negative") }
            if interval > 0 && filter.wantsMetrics {
                metricsInterval = max(configuration.minimumMetricsInterval, .milliseconds(Int64(interval * 1000)))
            }
        }
        let subscription = hub.subscribe(
            after: request.hasAfterSequence ? request.afterSequence : nil, types: filter.kinds)
        defer { subscription.cancel() }
        let clock = self.clock
        let heartbeatInterval = configuration.heartbeatInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: heartbeatInterval)
                    subscription.inject(
                        .with {
                            $0.time = Google_Protobuf_Timestamp(date: clock.now())
                            $0.heartbeat = .init()
                        }
                    )
                }
            }
            if let metricsInterval {
                group.addTask {
                    while true {
                        try await Task.sleep(for: metricsInterval)
                        do {
                            let metrics = try await self.sharedStreamMetrics()
                            subscription.inject(
                                .with {
                                    $0.time = Google_Protobuf_Timestamp(date: clock.now())
                                    $0.securityMetrics = metrics
                                }
                            )
                        } catch let error where !(error is CancellationError) {
                            self.logger.warning("could not compute stream metrics", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
            // Everything buffered goes out in one write, so a subscriber that fell behind catches up in few
            // round trips to the transport; live events go out in the form serialized once for all subscribers.
            var events = subscription.makeAsyncIterator()
            while let batch = try await events.nextBatch() {
                try await response.write(contentsOf: batch.map(\.wire))
            }
            group.cancelAll()
        }
    }

    /// The stream metrics snapshot, shared by every stream for a short while so many subscribers cost one query.
    func sharedStreamMetrics() async throws -> Classy_Monitoring_V1_SecurityMetrics {
        if let cached = metricsCache.fresh() { return cached }
        let metrics = try await metrics(window: configuration.streamMetricsWindow)
        metricsCache.store(metrics)
        return metrics
    }
}

/// What a StreamSecurityEvents request asked for.
struct StreamFilter {
    /// The persisted kinds to send (nil: all).
    var kinds: Set<SecurityEventKind>?
    /// Whether metrics snapshots are wanted.
    var wantsMetrics: Bool

    init(_ types: [Classy_Monitoring_V1_SecurityEventType]) throws(ClassyError) {
        guard !types.isEmpty else {
            kinds = nil
            wantsMetrics = true
            return
        }
        var kinds = Set<SecurityEventKind>()
        var wantsMetrics = false
        for type in types {
            switch type {
            case .loginAttempt: kinds.insert(.loginAttempt)
            case .ipBlocked: kinds.insert(.ipBlocked)
            case .ipUnblocked: kinds.insert(.ipUnblocked)
            case .accountLocked: kinds.insert(.accountLocked)
            case .refreshTokenReused: kinds.insert(.refreshTokenReused)
            case .auditLog: kinds.insert(.auditLog)
            case .securityMetrics: wantsMetrics = true
            case .heartbeat: break
            default:
                throw ClassyError.invalidField("types", "must list SecurityEventType values other than UNSPECIFIED")
            }
        }
        self.kinds = kinds
        self.wantsMetrics = wantsMetrics
    }
}

/// The latest stream metrics snapshot and when it was computed.
final class MetricsCache: Sendable {
    private let entry = Mutex<(time: ContinuousClock.Instant, metrics: Classy_Monitoring_V1_SecurityMetrics)?>(nil)
    /// How long a snapshot is reused.
    let maxAge: Duration = .milliseconds(500)

    func fresh() -> Classy_Monitoring_V1_SecurityMetrics? {
        entry.withLock { entry in
            guard let entry, ContinuousClock.now - entry.time < maxAge else { return nil }
            return entry.metrics
        }
    }

    func store(_ metrics: Classy_Monitoring_V1_SecurityMetrics) {
        entry.withLock { $0 = (ContinuousClock.now, metrics) }
    }
}
