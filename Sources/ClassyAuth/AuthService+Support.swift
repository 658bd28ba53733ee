import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation

/// The validated `ClientInfo` of a request.
struct ClientDetails: Sendable {
    var deviceName: String
    var platform: String
    var appVersion: String
    var userAgent: String

    /// Validates `client` into `check` (field names `client.*`).
    init(_ client: Classy_Auth_V1_ClientInfo, check: inout FieldValidator) {
        deviceName = check.text("client.device_name", client.deviceName, max: 200)
        platform = check.text("client.platform", client.platform, max: 100)
        appVersion = check.text("client.app_version", client.appVersion, max: 100)
        userAgent = check.text("client.user_agent", client.userAgent, max: 500)
    }
}

/// A keyset position in a newest-first list, as carried by an opaque page token.
struct SessionPosition: Codable, Sendable {
    var time: Double
    var id: String

    init(time: Date, id: String) {
        self.time = time.timeIntervalSince1970
        self.id = id
    }

    init(_ session: SessionRecord) {
        self.init(time: session.createTime, id: session.id)
    }

    var cursor: TimeCursor { TimeCursor(time: Date(timeIntervalSince1970: time), id: id) }
}

extension AuthService {
    /// A new session for `user` and its first token pair (not yet stored).
    func newSession(
        for user: UserRecord,
        client: ClientDetails,
        ipAddress: String,
        now: Date
    ) throws -> (SessionRecord, TokenPair) {
        let sessionID = UUID.randomLowercasedString()
        let expireTime = now.addingTimeInterval(configuration.refreshTokenLifetime)
        let pair = try TokenPair(
            tokens: tokens, userID: user.id, sessionID: sessionID, role: user.role, sessionExpireTime: expireTime
        )
        let session = SessionRecord(
            id: sessionID,
            userID: user.id,
            ipAddress: ipAddress,
            userAgent: client.userAgent,
            deviceName: client.deviceName,
            platform: client.platform,
            appVersion: client.appVersion,
            createTime: now,
            lastUsedTime: now,
            expireTime: expireTime,
            currentRefreshHash: pair.refreshHash,
            currentAccessTokenID: pair.accessTokenID
        )
        return (session, pair)
    }

    /// The NEW_SIGN_IN notification of a sign-in, which the store keeps only when the user already has active
    /// sessions but none from this device (a first sign-in and one from a device with an active session are not
    /// news).
    func newDeviceNotification(
        for user: UserRecord,
        client: ClientDetails,
        ipAddress: String,
        now: Date
    ) -> NewNotification {
        let deviceLabel = client.deviceName.isEmpty ? "a new device" : client.deviceName
        return NewNotification(
            userID: user.id,
            kind: Classy_Users_V1_NotificationKind.newSignIn.storeValue,
            title: "New sign-in",
            body: "Your account was signed in from \(deviceLabel).",
            data: [
                "ip_address": ipAddress, "device_name": client.deviceName, "platform": client.platform,
                "user_agent": client.userAgent,
            ],
            createTime: now
        )
    }

    /// What is written when a rotated refresh token is presented again: the security event, the
    /// audit entry and the owner's notification, in the transaction that revokes the session.
    func reuseEffects(session: SessionRecord, ipAddress: String, now: Date) -> StoreEffects {
        var effects = StoreEffects()
        effects.event(
            NewSecurityEvent(
                .refreshTokenReused(
                    .with {
                        $0.userID = session.userID
                        $0.sessionID = session.id
                        $0.ipAddress = ipAddress
                    }
                ),
                time: now
            )
        )
        effects.auditWithEvent(
            AuditEntryRecord(
                action: "session.refresh_token_reused", resourceType: "session", resourceID: session.id,
                details: ["user_id": session.userID], ipAddress: ipAddress, time: now
            )
        )
        effects.notify(
            NewNotification(
                userID: session.userID,
                kind: Classy_Users_V1_NotificationKind.sessionRevoked.storeValue,
                title: "Session signed out for your safety",
                body: "A refresh token of one of your sessions was used twice, so that session was signed out.",
                data: ["session_id": session.id, "device_name": session.deviceName, "by": "reuse_detection"],
                createTime: now
            )
        )
        return effects
    }
}
