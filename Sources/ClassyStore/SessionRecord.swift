import ClassyCore
import Foundation

/// A stored session: one per login, holding its refresh-token family.
public struct SessionRecord: Sendable, Equatable, Hashable {
    /// The session's UUID (the `sid` claim).
    public var id: String
    /// The owning user's id.
    public var userID: String
    /// The client IP address at sign-in.
    public var ipAddress: String
    /// The client's user agent.
    public var userAgent: String
    /// The client's device name.
    public var deviceName: String
    /// The client's platform.
    public var platform: String
    /// The client's app version.
    public var appVersion: String
    /// When the session was created.
    public var createTime: Date
    /// When the session was last used (refresh or explicit touch).
    public var lastUsedTime: Date
    /// When the session (and its refresh token) expires.
    public var expireTime: Date
    /// When the session was revoked, if it was.
    public var revokedTime: Date?
    /// Why the session was revoked, if it was.
    public var revokeReason: String?
    /// The hash of the current refresh token.
    public var currentRefreshHash: String
    /// The hash of the refresh token the current one replaced.
    public var previousRefreshHash: String?
    /// Until when the previous refresh token is still accepted (returning the same new pair).
    public var previousGraceUntil: Date?
    /// The number of rotations so far (0 for a fresh session).
    public var generation: Int
    /// An opaque id the auth layer attaches to the current token pair (for example the access token's `jti`).
    public var currentAccessTokenID: String?
    /// Opaque bytes the auth layer stores with the current pair so a replay within grace gets the same pair.
    public var lastIssuedPayload: Data?

    /// Creates a session record.
    public init(
        id: String = UUID.randomLowercasedString(),
        userID: String,
        ipAddress: String,
        userAgent: String = "",
        deviceName: String = "",
        platform: String = "",
        appVersion: String = "",
        createTime: Date,
        lastUsedTime: Date? = nil,
        expireTime: Date,
        revokedTime: Date? = nil,
        revokeReason: String? = nil,
        currentRefreshHash: String,
        previousRefreshHash: String? = nil,
        previousGraceUntil: Date? = nil,
        generation: Int = 0,
        currentAccessTokenID: String? = nil,
        lastIssuedPayload: Data? = nil
    ) {
        self.id = id
        self.userID = userID
        self.ipAddress = ipAddress
        self.userAgent = userAgent
        self.deviceName = deviceName
        self.platform = platform
        self.appVersion = appVersion
        self.createTime = createTime
        self.lastUsedTime = lastUsedTime ?? createTime
        self.expireTime = expireTime
        self.revokedTime = revokedTime
        self.revokeReason = revokeReason
        self.currentRefreshHash = currentRefreshHash
        self.previousRefreshHash = previousRefreshHash
        self.previousGraceUntil = previousGraceUntil
        self.generation = generation
        self.currentAccessTokenID = currentAccessTokenID
        self.lastIssuedPayload = lastIssuedPayload
    }

    /// Whether the session is neither revoked nor expired at `now`.
    public func isActive(at now: Date) -> Bool {
        revokedTime == nil && expireTime > now
    }
}

/// A keyset position in a time-ordered list (newest first): the last record of the previous page.
public struct TimeCursor: Sendable, Hashable {
    /// The ordering time of the last record returned.
    public var time: Date
    /// The id of the last record returned (tie-breaker).
    public var id: String

    /// Creates a cursor.
    public init(time: Date, id: String) {
        self.time = time
        self.id = id
    }
}

/// Which sessions a revocation covers.
public enum SessionRevocationScope: Sendable, Hashable {
    /// One session.
    case session(id: String)
    /// Every active session of a user.
    case allOfUser(userID: String)
    /// Every active session of a user except one (the caller's own).
    case allOfUserExcept(userID: String, keptSessionID: String)
}

/// A refresh-token rotation request: compare the presented hash and swap in the new one atomically.
public struct RefreshRotation: Sendable, Equatable {
    /// The session the presented token belongs to.
    public var sessionID: String
    /// The hash of the presented refresh token.
    public var presentedHash: String
    /// The hash of the new refresh token.
    public var newHash: String
    /// Until when the presented (now previous) token keeps working.
    public var graceUntil: Date
    /// The new expiry of the session, if rotation extends it.
    public var newExpireTime: Date?
    /// The opaque id attached to the new pair.
    public var accessTokenID: String?
    /// The opaque bytes stored with the new pair (returned by a replay within grace).
    public var issuedPayload: Data?
    /// The current time.
    public var now: Date

    /// Creates a rotation request.
    public init(
        sessionID: String,
        presentedHash: String,
        newHash: String,
        graceUntil: Date,
        newExpireTime: Date? = nil,
        accessTokenID: String? = nil,
        issuedPayload: Data? = nil,
        now: Date
    ) {
        self.sessionID = sessionID
        self.presentedHash = presentedHash
        self.newHash = newHash
        self.graceUntil = graceUntil
        self.newExpireTime = newExpireTime
        self.accessTokenID = accessTokenID
        self.issuedPayload = issuedPayload
        self.now = now
    }
}

/// The outcome of ``SessionStore/rotateRefreshToken(_:effects:reuseEffects:)``.
public enum RefreshRotationResult: Sendable, Equatable {
    /// The presented token was current; the session now holds the new hash.
    case rotated(SessionRecord)
    /// The presented token was the previous one and grace has not passed: return the same pair again.
    case withinGrace(SessionRecord)
    /// The presented token was rotated away earlier (after grace, or older): the session must be revoked.
    case reused(SessionRecord)
    /// The session is revoked or expired.
    case revokedOrExpired(SessionRecord)
    /// No such session, or the presented hash never belonged to it.
    case notFound
}
