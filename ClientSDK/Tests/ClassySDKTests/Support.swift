import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Synchronization
import Testing

@_spi(Testing) @testable import ClassySDK

/// A temporary folder removed at the end of the scope.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-sdk-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// An SDK configuration for a test server: state in `directory`, no background sync (tests drive it),
/// short backoffs.
func sdkConfiguration(port: Int, directory: URL, tokenStore: (any TokenStore)? = nil) -> ClassyClient.Configuration {
    var configuration = ClassyClient.Configuration(
        host: "127.0.0.1", port: port, dataDirectory: directory, tokenStore: tokenStore,
        clientInfo: ClientInfo(deviceName: "sdk-test", platform: "linux", appVersion: "test")
    )
    configuration.autoSync = false
    // Generous: the whole suite runs in parallel on two cores; tests are bounded by withTimeout anyway.
    configuration.callTimeout = .seconds(90)
    configuration.backoff = .init(initial: .milliseconds(50), maximum: .milliseconds(500))
    return configuration
}

/// A gate a test opens once; waiters block until then.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A settable clock for the SDK.
final class SDKClock: Sendable {
    private let current = Mutex(Date())
    var now: Date { current.withLock { $0 } }
    func advance(by interval: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(interval) } }
}

struct SimulatedCrash: Error {}

extension TestServer {
    /// A USER account created in the store (password ``TestServer/userPassword``).
    func makeAccount(role: ClassyCore.Role = .user, email: String? = nil) async throws -> UserRecord {
        try await signIn(role: role, email: email).user
    }

    /// Adds a notification for `userID` straight through the store.
    @discardableResult
    func notify(_ userID: String, _ title: String) async throws -> NotificationRecord {
        try await Self.notify(store: store, clock: clock, userID, title)
    }

    static func notify(
        store: any ClassyStoreProtocol, clock: ManualClock, _ userID: String, _ title: String
    ) async throws -> NotificationRecord {
        clock.advance(by: 1)
        let committed = try await store.commit(
            StoreEffects(notifications: [
                NewNotification(
                    userID: userID, kind: Classy_Users_V1_NotificationKind.newSignIn.storeValue, title: title,
                    body: "A sign-in from a new device.", data: ["ip_address": "192.0.2.1"], createTime: clock.now()
                )
            ])
        )
        return try #require(committed.notifications.first)
    }
}

extension MutationOutcome {
    var isQueued: Bool {
        if case .queued = self { return true }
        return false
    }

    var conflict: SyncConflict? {
        if case .conflicted(let conflict) = self { return conflict }
        return nil
    }
}

/// Expects `body` to fail with a ``ClassyClientError`` of `reason`.
func expectClientError(
    _ reason: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \(reason), but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as ClassyClientError {
        #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected ClassyClientError \(reason), got \(error)", sourceLocation: sourceLocation)
    }
}

extension ClassyClient {
    /// Waits (bounded) until the client reaches the server again after a restart.
    func waitUntilReachable() async throws {
        try await withTimeout {
            while !(await self.isReachable()) { try await Task.sleep(for: .milliseconds(50)) }
        }
    }
}
