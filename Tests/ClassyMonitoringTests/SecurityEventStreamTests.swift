import ClassyAPI
import ClassyCore
import ClassyServer
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import SwiftProtobuf
import Testing

/// StreamSecurityEvents over real TCP: replay, live, filters, heartbeats, metrics, restarts.
@Suite("StreamSecurityEvents")
struct SecurityEventStreamTests {
    /// Commits one audit entry (and its audit_log event) straight in the store; returns its sequence.
    @discardableResult
    static func audit(_ server: TestServer, _ resource: String) async throws -> UInt64 {
        let committed = try await server.store.commit(
            .audited(
                AuditEntryRecord(
                    action: "test.event", resourceType: "test", resourceID: resource, time: server.clock.now()))
        )
        return try #require(committed.events.last?.sequence)
    }

    @Test("after_sequence replays every later event, then continues live without gap or duplicate")
    func replayThenLive() async throws {
        try await withTestServer { server async throws in
            let (_, token) = try await server.serviceToken()
            var sequences: [UInt64] = []
            for index in 0..<5 { sequences.append(try await Self.audit(server, "before-\(index)")) }
            let after = sequences[1]
            let events = try await collectEvents(
                server, .with { $0.afterSequence = after }, token: token,
                started: {
                    for index in 0..<5 { try await Self.audit(server, "after-\(index)") }
                },
                until: { $0.filter { $0.sequence != 0 }.count == 8 }
            )
            let persisted = events.filter { $0.sequence != 0 }
            #expect(persisted.map(\.sequence) == Array((after + 1)...(after + 8)))
            #expect(
                persisted.map(\.auditLog.resourceID) == ["before-2", "before-3", "before-4"]
                    + (0..<5).map { "after-\($0)" })
            #expect(persisted.allSatisfy { $0.hasTime })
        }
    }

    @Test("type filters: only the listed kinds are sent")
    func typeFilter() async throws {
        try await withTestServer(configure: { $0.trustLoopbackProxy() }) { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let (_, token) = try await server.serviceToken()
            try await Self.audit(server, "ignored")
            let events = try await collectEvents(
                server,
                .with {
                    $0.afterSequence = 0
                    $0.types = [.ipBlocked, .ipUnblocked]
                },
                token: token,
                started: {
                    _ = try await server.monitoring.blockIP(
                        .with { $0.ipAddress = "192.0.2.77" }, metadata: .bearer(adminToken))
                    _ = try await server.monitoring.unblockIP(
                        .with { $0.ipAddress = "192.0.2.77" }, metadata: .bearer(adminToken))
                },
                until: { $0.filter { $0.sequence != 0 }.count == 2 }
            )
            let persisted = events.filter { $0.sequence != 0 }
            #expect(persisted.map(\.ipBlocked.ipAddress) == ["192.0.2.77", ""])
            #expect(persisted.last?.ipUnblocked.ipAddress == "192.0.2.77")
            if case .ipBlocked = persisted.first?.event {} else { Issue.record("expected ip_blocked first") }
            if case .ipUnblocked = persisted.last?.event {} else { Issue.record("expected ip_unblocked last") }

            await expectRPCError(.invalidArgument, .invalidField) {
                try await server.monitoring.streamSecurityEvents(
                    .with { $0.types = [.unspecified] }, metadata: .bearer(token)
                ) { response in
                    for try await _ in response.messages {}
                }
            }
        }
    }

    @Test("heartbeats (sequence 0) are sent whatever the filter")
    func heartbeats() async throws {
        try await withTestServer(configure: { $0.streamHeartbeatInterval = .milliseconds(50) }) { server async throws in
            let (_, token) = try await server.serviceToken()
            let events = try await collectEvents(
                server, .with { $0.types = [.refreshTokenReused] }, token: token,
                until: { $0.count == 3 }
            )
            #expect(events.count == 3)
            for event in events {
                #expect(event.sequence == 0)
                if case .heartbeat = event.event {} else { Issue.record("expected a heartbeat, got \(event)") }
            }
        }
    }

    @Test("metrics snapshots arrive every metrics_interval when asked for")
    func metricsSnapshots() async throws {
        try await withTestServer { server async throws in
            let (_, token) = try await server.serviceToken()
            try await server.store.recordLoginAttempt(
                LoginAttemptRecord(
                    email: "m@classy.test", ipAddress: "192.0.2.5", success: false,
                    time: server.clock.now().addingTimeInterval(-5)),
                effects: .none
            )
            let events = try await collectEvents(
                server,
                .with {
                    $0.types = [.securityMetrics]
                    $0.metricsInterval = .init(seconds: 0, nanos: 100_000_000)  // raised to the 1 s minimum
                },
                token: token,
                until: { $0.contains { $0.hasSecurityMetricsEvent } }
            )
            let snapshot = try #require(events.first { $0.hasSecurityMetricsEvent })
            #expect(snapshot.sequence == 0)
            #expect(snapshot.securityMetrics.window.seconds == 3600)
            #expect(snapshot.securityMetrics.failedLogins == 1)
        }
    }

    @Test("a stream resumes from its last sequence across a server restart")
    func resumeAcrossRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-resume-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("classy.sqlite").path

        let lastSeen: UInt64 = try await withTestServer(databasePath: path) { server async throws in
            let (_, token) = try await server.serviceToken()
            for index in 0..<4 { try await Self.audit(server, "first-\(index)") }
            let events = try await collectEvents(
                server, .with { $0.afterSequence = 0 }, token: token,
                until: { $0.filter { $0.sequence != 0 }.count == 2 }
            )
            return events.filter { $0.sequence != 0 }.last!.sequence
        }
        try await withTestServer(databasePath: path) { server async throws in
            let (_, token) = try await server.serviceToken()
            let latest = try await server.store.latestEventSequence()
            let events = try await collectEvents(
                server, .with { $0.afterSequence = lastSeen }, token: token,
                started: { try await Self.audit(server, "second") },
                until: { $0.last?.auditLog.resourceID == "second" }
            )
            let persisted = events.filter { $0.sequence != 0 }
            #expect(persisted.map(\.sequence) == Array((lastSeen + 1)...(latest + 1)))
            #expect(persisted.map(\.auditLog.resourceID).prefix(2) == ["first-2", "first-3"])
        }
    }

    @Test("finishing the hub (as graceful shutdown does) ends open streams with OK")
    func endsOnShutdown() async throws {
        try await withTestServer { server async throws in
            let (_, token) = try await server.serviceToken()
            let hub = server.runtime.eventHub
            let baseline = hub.subscriberCount
            try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    try await server.monitoring.streamSecurityEvents(.init(), metadata: .bearer(token)) { response in
                        var received = 0
                        for try await _ in response.messages { received += 1 }
                        return received
                    }
                }
                let deadline = ContinuousClock.now + .seconds(10)
                while hub.subscriberCount <= baseline && ContinuousClock.now < deadline { await Task.yield() }
                #expect(hub.subscriberCount > baseline)
                hub.finish()
                let received = try await group.next()
                #expect(received == 0)
            }
        }
    }
}

extension Classy_Monitoring_V1_SecurityEvent {
    /// Whether this is a metrics snapshot.
    var hasSecurityMetricsEvent: Bool {
        if case .securityMetrics = event { return true }
        return false
    }
}
