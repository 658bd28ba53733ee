import ClassyAPI
import ClassyCore
import ClassyTesting
import Foundation
import GRPCCore
import Synchronization
import Testing

/// PostgreSQL stops under a running `classy-server`: RPCs answer UNAVAILABLE / STORE_UNAVAILABLE within the
/// configured bounds instead of hanging, and everything recovers, without a restart, when it is back.
@Suite(
    "PostgreSQL outages",
    .enabled(if: PostgresTestServer.isAvailable, "\(PostgresTestServer.skipReason)"),
    .serialized
)
struct FaultTests {
    @Test("stop PostgreSQL mid-run: bounded UNAVAILABLE, streams survive, recovery on restart")
    func outageAndRecovery() async throws {
        try await PostgresTestServer.withServer { postgres in
            let url = try await postgres.createDatabase(named: "faults")
            let arguments = ReplicaTests.arguments(
                url: url,
                extra: ["--database-connect-timeout-seconds", "1", "--database-query-timeout-seconds", "2"]
            )
            try await ClassyServerProcess.with(arguments: arguments) { server in
                try await withReplicaClient(server.port) { client in
                    try await Self.checkOutage(postgres: postgres, client: client)
                }
                if ProcessInfo.processInfo.environment["CLASSY_TEST_SHOW_OUTPUT"] != nil {
                    print(server.child.output.suffix(8000))
                }
            }
        }
    }

    static func checkOutage(postgres: PostgresTestServer, client: ReplicaClient) async throws {
        let admin = try await client.auth.login(
            .with {
                $0.email = ReplicaTests.adminEmail
                $0.password = ReplicaTests.adminPassword
            }
        ).tokens.accessToken
        #expect(try await client.users.getMe(.init(), metadata: .bearer(admin)).user.email == ReplicaTests.adminEmail)

        // A stream subscribed before the outage; it must end cleanly or stay open and resume delivering.
        let marker = "after-outage@faults.test"
        let streamOutcome = Locked<String?>(nil)
        let streamOpen = Locked(false)
        let stream = Task {
            do {
                try await client.monitoring.streamSecurityEvents(
                    .with { $0.afterSequence = 0 }, metadata: .bearer(admin)
                ) { response in
                    for try await event in response.messages {
                        // The first event (the admin's sign-in, replayed) shows the stream got past authentication.
                        streamOpen.value = true
                        guard event.loginAttempt.email == marker else { continue }
                        streamOutcome.value = "delivered"
                        return
                    }
                    streamOutcome.value = "ended cleanly"
                }
            } catch {
                streamOutcome.value = "failed: \(error)"
            }
        }
        defer { stream.cancel() }
        let openDeadline = ContinuousClock.now + .seconds(20)
        while !streamOpen.value, streamOutcome.value == nil, ContinuousClock.now < openDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(streamOpen.value, "the stream did not open: \(streamOutcome.value ?? "no event within 20 s")")

        try await postgres.stop()
        var options = CallOptions.defaults
        options.timeout = .seconds(30)
        for _ in 0..<2 {
            let started = ContinuousClock.now
            await expectRPCError(.unavailable, .storeUnavailable) {
                _ = try await client.users.getMe(.init(), metadata: .bearer(admin), options: options)
            }
            await expectRPCError(.unavailable, .storeUnavailable) {
                _ = try await client.auth.login(
                    .with {
                        $0.email = ReplicaTests.adminEmail
                        $0.password = ReplicaTests.adminPassword
                    }, options: options)
            }
            print("two RPCs during the outage answered UNAVAILABLE in \(ContinuousClock.now - started)")
        }
        let health = try await client.health.check(.init())
        print("health during the outage: \(health.status)")

        try await postgres.restart()
        // The pool reconnects on demand; the first calls may still race the reconnect.
        var recovered = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !recovered, ContinuousClock.now < deadline {
            do {
                recovered =
                    try await client.users.getMe(.init(), metadata: .bearer(admin), options: options).user.email
                    == ReplicaTests.adminEmail
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(recovered, "the server did not recover after PostgreSQL came back")
        await expectRPCError(.unauthenticated, .invalidCredentials) {
            _ = try await client.auth.login(
                .with {
                    $0.email = marker
                    $0.password = "wrong password"
                })
        }
        let fresh = try await client.auth.login(
            .with {
                $0.email = ReplicaTests.adminEmail
                $0.password = ReplicaTests.adminPassword
            })
        #expect(!fresh.tokens.accessToken.isEmpty)

        let streamDeadline = ContinuousClock.now + .seconds(10)
        while streamOutcome.value == nil, ContinuousClock.now < streamDeadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let outcome = streamOutcome.value
        print("stream across the outage: \(outcome ?? "still open")")
        #expect(outcome == "delivered" || outcome == "ended cleanly", "stream: \(outcome ?? "no event after recovery")")
    }
}
