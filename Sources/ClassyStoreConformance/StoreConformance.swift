import ClassyCore
import ClassyStore
import Foundation
import Testing

/// Creates a fresh, migrated, empty backend for one conformance check.
public typealias StoreFactory = @Sendable () async throws -> any ClassyStoreProtocol

/// The conformance suite every store backend must pass.
///
/// Each check is a public async function that takes a ``StoreFactory``, opens its own store, records
/// failures with Swift Testing's `#expect`, and closes the store. A backend's test target wraps each
/// one in a `@Test`:
///
/// ```swift
/// @Test func users() async throws { try await StoreConformance.users(makeStore) }
/// ```
///
/// ``checks`` lists every check by name, so a test target can also run them as one parameterised test.
public enum StoreConformance {
    /// A named conformance check.
    public struct Check: Sendable, CustomStringConvertible {
        /// The check's name.
        public let name: String
        /// Runs the check against stores from the factory.
        public let run: @Sendable (_ makeStore: @escaping StoreFactory) async throws -> Void

        /// The check's name, shown in test output.
        public var description: String { name }
    }

    /// Every check in the suite.
    public static let checks: [Check] = [
        Check(name: "lifecycle", run: lifecycle),
        Check(name: "users", run: users),
        Check(name: "usersConcurrentCreate", run: usersConcurrentCreate),
        Check(name: "usersConcurrentETagUpdate", run: usersConcurrentETagUpdate),
        Check(name: "userChangeFeed", run: userChangeFeed),
        Check(name: "userListing", run: userListing),
        Check(name: "sessions", run: sessions),
        Check(name: "deviceSighting", run: deviceSighting),
        Check(name: "refreshRotation", run: refreshRotation),
        Check(name: "refreshRotationConcurrent", run: refreshRotationConcurrent),
        Check(name: "failureCounters", run: failureCounters),
        Check(name: "failureCountersConcurrent", run: failureCountersConcurrent),
        Check(name: "successesReadBeforeCount", run: successesReadBeforeCount),
        Check(name: "preCountLogin", run: preCountLogin),
        Check(name: "successfulLogin", run: successfulLogin),
        Check(name: "newDeviceNotification", run: newDeviceNotification),
        Check(name: "accountLocks", run: accountLocks),
        Check(name: "ipBlocks", run: ipBlocks),
        Check(name: "loginAttempts", run: loginAttempts),
        Check(name: "securityMetrics", run: securityMetrics),
        Check(name: "events", run: events),
        Check(name: "transactionalEffects", run: transactionalEffects),
        Check(name: "eventsConcurrentAppend", run: eventsConcurrentAppend),
        Check(name: "commitWakeUps", run: commitWakeUps),
        Check(name: "commitWakeUpOrder", run: commitWakeUpOrder),
        Check(name: "auditLogs", run: auditLogs),
        Check(name: "notifications", run: notifications),
        Check(name: "idempotency", run: idempotency),
        Check(name: "idempotencyConcurrent", run: idempotencyConcurrent),
        Check(name: "serviceAccounts", run: serviceAccounts),
        Check(name: "signingKeys", run: signingKeys),
    ]

    // MARK: - Harness

    /// A fixed, whole-second base time, so every backend round-trips fixture times exactly.
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    /// `t0` plus `seconds`.
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    /// Opens a store, runs `body`, and closes the store even when `body` throws.
    static func withStore(
        _ makeStore: StoreFactory,
        _ body: (any ClassyStoreProtocol) async throws -> Void
    ) async throws {
        let store = try await makeStore()
        do {
            try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// Records an issue unless `body` throws a ``StoreError`` with `code`.
    static func expectStoreError<T>(
        _ code: StoreError.Code,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> T
    ) async {
        do {
            let value = try await body()
            Issue.record("expected StoreError \(code), got \(value)", sourceLocation: sourceLocation)
        } catch let error as StoreError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected StoreError \(code), got \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Runs `count` operations in parallel and returns their results in index order.
    static func concurrently<T: Sendable>(
        _ count: Int,
        _ operation: @escaping @Sendable (Int) async throws -> T
    ) async -> [Result<T, any Error>] {
        await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            for index in 0..<count {
                group.addTask {
                    do {
                        return (index, .success(try await operation(index)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results = [Result<T, any Error>?](repeating: nil, count: count)
            for await (index, result) in group {
                results[index] = result
            }
            return results.compactMap { $0 }
        }
    }

    /// The store error code of a failed result, if it is one.
    static func storeErrorCode<T>(_ result: Result<T, any Error>) -> StoreError.Code? {
        guard case .failure(let error) = result, let storeError = error as? StoreError else { return nil }
        return storeError.code
    }

    /// Creates a user with defaults for the fields a check does not care about.
    @discardableResult
    static func makeUser(
        _ store: any ClassyStoreProtocol,
        email: String,
        firstName: String = "First",
        lastName: String = "Last",
        role: Role = .user,
        isActive: Bool = true,
        createTime: Date = t0
    ) async throws -> UserRecord {
        try await store.createUser(
            NewUser(
                email: email,
                passwordHash: "hash-\(email)",
                firstName: firstName,
                lastName: lastName,
                role: role,
                isActive: isActive,
                createTime: createTime
            ),
            effects: .none
        )
    }

    /// A session for `userID` created at `createTime`, expiring a week later unless told otherwise.
    static func makeSession(
        userID: String,
        refreshHash: String,
        createTime: Date = t0,
        expireTime: Date? = nil
    ) -> SessionRecord {
        SessionRecord(
            userID: userID,
            ipAddress: "203.0.113.7",
            userAgent: "conformance/1.0",
            deviceName: "test device",
            platform: "linux",
            appVersion: "1.0.0",
            createTime: createTime,
            expireTime: expireTime ?? createTime.addingTimeInterval(7 * 24 * 3600),
            currentRefreshHash: refreshHash
        )
    }

    /// An event with a small payload.
    static func event(_ kind: SecurityEventKind, _ text: String, time: Date = t0) -> NewSecurityEvent {
        NewSecurityEvent(kind: kind, time: time, payload: Data(text.utf8))
    }

    /// Effects holding one audit entry (with a fresh id) for `action`.
    static func auditEffects(_ action: String, actor: String? = nil, time: Date = t0) -> StoreEffects {
        StoreEffects(
            auditEntries: [
                AuditEntryRecord(
                    action: action, actorUserID: actor, resourceType: "test", resourceID: action, time: time)
            ]
        )
    }

    /// Returns the first element of `stream`, or `nil` after `timeout` seconds.
    static func first(
        of stream: AsyncStream<StoreCommit>,
        within timeout: Double = 5
    ) async -> StoreCommit? {
        await withTaskGroup(of: StoreCommit?.self) { group in
            group.addTask {
                for await commit in stream { return commit }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let result = await group.next() ?? nil
            group.cancelAll()
            return result
        }
    }

    // MARK: - Lifecycle

    /// Migrating again is a no-op; a closed store throws `unavailable` and ends its commit streams.
    public static func lifecycle(_ makeStore: @escaping StoreFactory) async throws {
        let store = try await makeStore()
        try await store.migrate()
        try await store.migrate()
        let user = try await makeUser(store, email: "life@example.com")
        #expect(try await store.user(id: user.id) == user)
        let stream = store.commits()
        try await store.close()
        var ended = true
        for await _ in stream { ended = false }
        #expect(ended, "a commit stream must end when the store closes")
        await expectStoreError(.unavailable) { try await store.user(id: user.id) }
        await expectStoreError(.unavailable) { try await makeUser(store, email: "late@example.com") }
    }
}
