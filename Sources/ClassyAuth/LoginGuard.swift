import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation

/// Who is trying to log in, as the brute-force defence sees it.
public struct LoginContext: Sendable {
    /// The normalised email tried.
    public var email: String
    /// The client IP.
    public var ipAddress: String
    /// The client's user agent.
    public var userAgent: String
    /// The client's device name.
    public var deviceName: String

    public init(email: String, ipAddress: String, userAgent: String, deviceName: String) {
        self.email = email
        self.ipAddress = ipAddress
        self.userAgent = userAgent
        self.deviceName = deviceName
    }
}

/// Applies the brute-force policy around Login and records every attempt with its security event.
///
/// Login calls ``admit(_:)`` before it looks at the password, then exactly one of
/// ``recordFailure(_:reason:userID:)`` or ``recordSuccess(_:session:effects:)``.
public struct LoginGuard: Sendable {
    let store: any ClassyStoreProtocol
    let clock: any WallClock

    public init(store: any ClassyStoreProtocol, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    /// Lets an attempt proceed to the password check, or refuses it.
    public func admit(_ context: LoginContext) async throws {}

    /// Records a failed attempt (and whatever the policy does about it).
    public func recordFailure(
        _ context: LoginContext,
        reason: Classy_Monitoring_V1_FailureReason,
        userID: String?
    ) async throws {
        let attempt = attemptRecord(context, success: false, reason: reason, userID: userID, sessionID: nil)
        try await store.recordLoginAttempt(attempt, effects: Self.event(for: attempt))
    }

    /// Stores the new session and the successful attempt in one transaction; returns the updated user.
    public func recordSuccess(
        _ context: LoginContext,
        session: SessionRecord,
        effects: StoreEffects
    ) async throws -> UserRecord {
        let attempt = attemptRecord(context, success: true, reason: nil, userID: session.userID, sessionID: session.id)
        return try await store.recordSuccessfulLogin(
            session: session, attempt: attempt, effects: Self.event(for: attempt).merging(effects)
        )
    }

    func attemptRecord(
        _ context: LoginContext,
        success: Bool,
        reason: Classy_Monitoring_V1_FailureReason?,
        userID: String?,
        sessionID: String?
    ) -> LoginAttemptRecord {
        LoginAttemptRecord(
            email: context.email,
            ipAddress: context.ipAddress,
            success: success,
            failureReason: reason?.storeValue,
            userID: userID,
            sessionID: sessionID,
            userAgent: context.userAgent,
            deviceName: context.deviceName,
            time: clock.now()
        )
    }

    static func event(for attempt: LoginAttemptRecord) -> StoreEffects {
        StoreEffects(events: [NewSecurityEvent(.loginAttempt(attempt.api), time: attempt.time)])
    }
}
