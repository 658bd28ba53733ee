import ClassyCore
import Foundation

/// A stored login attempt (kept for 30 days).
public struct LoginAttemptRecord: Sendable, Equatable, Hashable {
    /// The attempt's UUID.
    public var id: String
    /// The normalised email that was tried (existing or not).
    public var email: String
    /// The client IP address.
    public var ipAddress: String
    /// Whether the login succeeded.
    public var success: Bool
    /// Why it failed (the service layer's `FailureReason` name), `nil` on success.
    public var failureReason: String?
    /// The user that signed in or was targeted, when known.
    public var userID: String?
    /// The session created by a successful login.
    public var sessionID: String?
    /// The client's user agent.
    public var userAgent: String
    /// The client's device name.
    public var deviceName: String
    /// When the attempt happened.
    public var time: Date

    /// Creates a login attempt record.
    public init(
        id: String = UUID.randomLowercasedString(),
        email: String,
        ipAddress: String,
        success: Bool,
        failureReason: String? = nil,
        userID: String? = nil,
        sessionID: String? = nil,
        userAgent: String = "",
        deviceName: String = "",
        time: Date
    ) {
        self.id = id
        self.email = email
        self.ipAddress = ipAddress
        self.success = success
        self.failureReason = failureReason
        self.userID = userID
        self.sessionID = sessionID
        self.userAgent = userAgent
        self.deviceName = deviceName
        self.time = time
    }
}

/// The filters and page of a login-attempt list (newest first).
public struct LoginAttemptQuery: Sendable, Hashable {
    /// Only attempts for this (normalised) email.
    public var email: String?
    /// Only attempts from this IP address.
    public var ipAddress: String?
    /// Only successful (`true`) or failed (`false`) attempts.
    public var success: Bool?
    /// Only attempts at or after this time.
    public var startTime: Date?
    /// Only attempts before this time.
    public var endTime: Date?
    /// Continue after this position.
    public var after: TimeCursor?
    /// The maximum number of attempts to return.
    public var limit: Int

    /// Creates a login-attempt query.
    public init(
        email: String? = nil,
        ipAddress: String? = nil,
        success: Bool? = nil,
        startTime: Date? = nil,
        endTime: Date? = nil,
        after: TimeCursor? = nil,
        limit: Int = 50
    ) {
        self.email = email
        self.ipAddress = ipAddress
        self.success = success
        self.startTime = startTime
        self.endTime = endTime
        self.after = after
        self.limit = limit
    }
}

/// The failure counts returned by ``SecurityStore/recordLoginFailure(email:ipKey:window:now:attempt:effects:)``.
public struct LoginFailureCounts: Sendable, Hashable {
    /// Failures for the email within the window, including this one (0 when no email was given).
    public var email: Int
    /// Failures for the IP key within the window, including this one (0 when no IP key was given).
    public var ip: Int
    /// Entries under the `ipSuccessesKey` given to
    /// ``SecurityStore/recordLoginFailure(email:ipKey:ipSuccessesKey:window:now:attempt:effects:)`` within the
    /// window, read in the same transaction before this failure was counted (0 when none was given).
    public var ipSuccesses: Int

    /// Creates failure counts.
    public init(email: Int, ip: Int, ipSuccesses: Int = 0) {
        self.email = email
        self.ip = ip
        self.ipSuccesses = ipSuccesses
    }
}

/// The failure counters a count touches, under the keys every backend stores them by: `email:` and the normalised
/// email, `ip:` and the IP key (or any other key counted the same way, such as an IP key's successes).
public struct FailureCounterKeys: Sendable {
    /// The email's counter, if an email is counted.
    public var email: String?
    /// The IP key's counter, if one is counted.
    public var ip: String?
    /// The counter read (not counted) before the others, if any.
    public var ipSuccesses: String?

    /// The counters of an email and IP key (and of the IP key's successes to read first).
    public init(email: String?, ipKey: String?, ipSuccessesKey: String? = nil) {
        self.email = email.map(Self.email)
        self.ip = ipKey.map(Self.ip)
        self.ipSuccesses = ipSuccessesKey.map(Self.ip)
    }

    /// The counter key of an email (normalised here).
    public static func email(_ email: String) -> String { "email:" + EmailNormalization.normalize(email) }

    /// The counter key of an IP key.
    public static func ip(_ key: String) -> String { "ip:" + key }
}
