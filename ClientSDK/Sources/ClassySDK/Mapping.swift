internal import ClassyAPI
import Foundation
internal import SwiftProtobuf

// Generated messages <-> SDK models. Internal: generated types never appear in the public API.

extension Google_Protobuf_Timestamp {
    var optionalDate: Date? { seconds == 0 && nanos == 0 ? nil : date }
}

extension Google_Protobuf_Duration {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(seconds: seconds, nanos: Int32(attoseconds / 1_000_000_000))
    }

    var swiftDuration: Duration { .seconds(seconds) + .nanoseconds(Int64(nanos)) }
}

extension Role {
    init(_ role: Classy_Users_V1_Role) {
        switch role {
        case .admin: self = .admin
        case .superAdmin: self = .superAdmin
        case .service: self = .service
        default: self = .user
        }
    }

    var api: Classy_Users_V1_Role {
        switch self {
        case .user: .user
        case .admin: .admin
        case .superAdmin: .superAdmin
        case .service: .service
        }
    }
}

extension User {
    init(_ user: Classy_Users_V1_User) {
        self.init(
            id: user.id, email: user.email, firstName: user.firstName, lastName: user.lastName, role: Role(user.role),
            isPrimaryAdmin: user.isPrimaryAdmin, isActive: user.isActive,
            createTime: user.hasCreateTime ? user.createTime.date : nil,
            updateTime: user.hasUpdateTime ? user.updateTime.date : nil,
            lastLoginTime: user.hasLastLoginTime ? user.lastLoginTime.date : nil,
            etag: user.etag, deleted: user.deleted
        )
    }
}

extension Session {
    init(_ session: Classy_Auth_V1_Session) {
        self.init(
            id: session.id, userID: session.userID, ipAddress: session.ipAddress, userAgent: session.userAgent,
            deviceName: session.deviceName, platform: session.platform,
            createTime: session.hasCreateTime ? session.createTime.date : nil,
            lastUsedTime: session.hasLastUsedTime ? session.lastUsedTime.date : nil,
            expireTime: session.hasExpireTime ? session.expireTime.date : nil,
            isCurrent: session.current
        )
    }
}

extension NotificationKind {
    init(_ kind: Classy_Users_V1_NotificationKind) {
        switch kind {
        case .newSignIn: self = .newSignIn
        case .passwordChanged: self = .passwordChanged
        case .sessionRevoked: self = .sessionRevoked
        case .accountLocked: self = .accountLocked
        case .roleChanged: self = .roleChanged
        case .profileUpdated: self = .profileUpdated
        default: self = .unknown
        }
    }
}

extension UserNotification {
    init(_ notification: Classy_Users_V1_Notification) {
        self.init(
            id: notification.id, kind: NotificationKind(notification.kind), title: notification.title,
            body: notification.body, data: notification.data,
            createTime: notification.hasCreateTime ? notification.createTime.date : nil,
            read: notification.read, cursor: notification.cursor
        )
    }
}

extension BlockedIP {
    init(_ blocked: Classy_Monitoring_V1_BlockedIP) {
        self.init(
            ipAddress: blocked.ipAddress, reason: blocked.reason, attempts: Int(blocked.attempts),
            blockedUntil: blocked.hasBlockedUntil ? blocked.blockedUntil.date : nil, permanent: blocked.permanent,
            createTime: blocked.hasCreateTime ? blocked.createTime.date : nil, createdBy: blocked.createdBy
        )
    }
}

extension LoginAttempt {
    init(_ attempt: Classy_Monitoring_V1_LoginAttempt) {
        let reason: LoginFailureReason? =
            switch attempt.failureReason {
            case .invalidCredentials: .invalidCredentials
            case .accountLocked: .accountLocked
            case .accountDisabled: .accountDisabled
            case .ipBlocked: .ipBlocked
            case .rateLimited: .rateLimited
            default: nil
            }
        self.init(
            id: attempt.id, email: attempt.email, ipAddress: attempt.ipAddress, success: attempt.success,
            failureReason: reason, userID: attempt.userID, sessionID: attempt.sessionID,
            userAgent: attempt.userAgent, deviceName: attempt.deviceName,
            time: attempt.hasTime ? attempt.time.date : nil
        )
    }
}

extension AuditEntry {
    init(_ entry: Classy_Monitoring_V1_AuditLogEntry) {
        self.init(
            id: entry.id, action: entry.action, actorUserID: entry.actorUserID, resourceType: entry.resourceType,
            resourceID: entry.resourceID, details: entry.details, ipAddress: entry.ipAddress,
            time: entry.hasTime ? entry.time.date : nil
        )
    }
}

extension SecurityMetrics {
    init(_ metrics: Classy_Monitoring_V1_SecurityMetrics) {
        self.init(
            window: metrics.window.swiftDuration, loginAttempts: Int(metrics.loginAttempts),
            failedLogins: Int(metrics.failedLogins), successfulLogins: Int(metrics.successfulLogins),
            uniqueIPs: Int(metrics.uniqueIps), activeBlockedIPs: Int(metrics.activeBlockedIps),
            lockedAccounts: Int(metrics.lockedAccounts), activeSessions: Int(metrics.activeSessions),
            topFailingIPs: Dictionary(
                metrics.topFailingIps.map { ($0.ipAddress, Int($0.count)) }, uniquingKeysWith: { first, _ in first }
            ),
            failuresPerMinute: metrics.failuresPerMinute.map { Int($0) }
        )
    }
}

extension SecurityEventType {
    var api: Classy_Monitoring_V1_SecurityEventType {
        switch self {
        case .loginAttempt: .loginAttempt
        case .ipBlocked: .ipBlocked
        case .ipUnblocked: .ipUnblocked
        case .accountLocked: .accountLocked
        case .refreshTokenReused: .refreshTokenReused
        case .auditLog: .auditLog
        case .securityMetrics: .securityMetrics
        }
    }
}

extension SecurityEvent {
    /// Nil for heartbeats and events this SDK does not know.
    init?(_ event: Classy_Monitoring_V1_SecurityEvent) {
        let kind: Kind
        switch event.event {
        case .loginAttempt(let attempt): kind = .loginAttempt(LoginAttempt(attempt))
        case .ipBlocked(let blocked): kind = .ipBlocked(BlockedIP(blocked))
        case .ipUnblocked(let unblocked):
            kind = .ipUnblocked(
                ipAddress: unblocked.ipAddress, reason: unblocked.reason, unblockedBy: unblocked.unblockedBy
            )
        case .accountLocked(let locked):
            kind = .accountLocked(
                email: locked.email, userID: locked.userID, failedAttempts: Int(locked.failedAttempts),
                lockedUntil: locked.hasLockedUntil ? locked.lockedUntil.date : nil, ipAddress: locked.ipAddress
            )
        case .refreshTokenReused(let reused):
            kind = .refreshTokenReused(userID: reused.userID, sessionID: reused.sessionID, ipAddress: reused.ipAddress)
        case .auditLog(let entry): kind = .auditLog(AuditEntry(entry))
        case .securityMetrics(let metrics): kind = .securityMetrics(SecurityMetrics(metrics))
        case .heartbeat, .none: return nil
        }
        self.init(sequence: event.sequence, time: event.hasTime ? event.time.date : nil, kind: kind)
    }
}

extension ClientInfo {
    var api: Classy_Auth_V1_ClientInfo {
        .with {
            $0.deviceName = deviceName
            $0.platform = platform
            $0.appVersion = appVersion
            $0.userAgent = userAgent
        }
    }
}
