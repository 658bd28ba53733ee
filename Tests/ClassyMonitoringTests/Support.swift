import ClassyAPI
import ClassyCore
import ClassyServer
import ClassyTesting
import Foundation
import GRPCCore
import Testing

extension Metadata {
    /// Metadata that makes the test server (trusting 127.0.0.1 as a proxy) see the client as `ip`.
    static func from(_ ip: String, token: String? = nil) -> Metadata {
        var metadata: Metadata = token.map { .bearer($0) } ?? [:]
        metadata.addString(ip, forKey: "x-forwarded-for")
        return metadata
    }
}

extension ServerConfiguration {
    /// Believe `x-forwarded-for` from the test client, so tests can speak from many addresses.
    mutating func trustLoopbackProxy() {
        trustedProxies = [IPNetwork("127.0.0.1")!]
    }
}

/// A Login request.
func loginRequest(_ email: String, _ password: String) -> Classy_Auth_V1_LoginRequest {
    .with {
        $0.email = email
        $0.password = password
        $0.client = .with {
            $0.deviceName = "test device"
            $0.userAgent = "monitoring-tests/1"
            $0.platform = "linux"
        }
    }
}

/// Collects messages of a security-event stream until `done` says so, within a time limit.
func collectEvents(
    _ server: TestServer,
    _ request: Classy_Monitoring_V1_StreamSecurityEventsRequest,
    token: String,
    limit: Duration = .seconds(20),
    started: (@Sendable () async throws -> Void)? = nil,
    until done: @escaping @Sendable ([Classy_Monitoring_V1_SecurityEvent]) -> Bool
) async throws -> [Classy_Monitoring_V1_SecurityEvent] {
    try await withThrowingTaskGroup(of: [Classy_Monitoring_V1_SecurityEvent]?.self) { group in
        group.addTask {
            try await server.monitoring.streamSecurityEvents(request, metadata: .bearer(token)) { response in
                var events: [Classy_Monitoring_V1_SecurityEvent] = []
                for try await event in response.messages {
                    events.append(event)
                    if done(events) { break }
                }
                return events
            }
        }
        if let started {
            group.addTask {
                try await started()
                try await Task.sleep(for: limit * 2)
                return nil
            }
        }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        while let result = try await group.next() {
            if let result {
                group.cancelAll()
                return result
            }
            // The timer elapsed (a `started` task never returns a value before the limit).
            group.cancelAll()
            throw RPCError(code: .deadlineExceeded, message: "the stream did not deliver in time")
        }
        throw RPCError(code: .deadlineExceeded, message: "the stream did not deliver in time")
    }
}
