import ClassyAPI
import ClassyCore
import Foundation
import SwiftProtobuf

// The one place where stored records become wire messages (and security events become payloads),
// shared by every service so a field is mapped the same way everywhere.

extension Role {
    /// The wire enum of this role.
    public var api: Classy_Users_V1_Role {
        switch self {
        case .user: .user
        case .admin: .admin
        case .superAdmin: .superAdmin
        case .service: .service
        }
    }

    /// The role of a wire enum; nil for UNSPECIFIED and unknown values.
    public init?(api: Classy_Users_V1_Role) {
        switch api {
        case .user: self = .user
        case .admin: self = .admin
        case .superAdmin: self = .superAdmin
        case .service: self = .service
        default: return nil
        }
    }
}

extension Google_Protobuf_Timestamp {
    /// A timestamp, or nil for a nil date (so optional fields stay unset).
    static func optional(_ date: Date?) -> Google_Protobuf_Timestamp? {
        date.map { Google_Protobuf_Timestamp(date: $0) }
    }
}

extension UserRecord {
    /// The wire form (never the password hash).
    public var api: Classy_Users_V1_User {
        .with {
            $0.id = id
            $0.email = email
            $0.firstName = firstName
            $0.lastName = lastName
            $0.role = role.api
            $0.isPrimaryAdmin = isPrimaryAdmin
            $0.isActive = isActive
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
            $0.updateTime = Google_Protobuf_Timestamp(date: updateTime)
            if let lastLoginTime { $0.lastLoginTime = Google_Protobuf_Timestamp(date: lastLoginTime) }
            $0.etag = etag
            $0.deleted = deleted
        }
    }
}

extension SessionRecord {
    /// The wire form; `current` marks the caller's own session.
    public func api(currentSessionID: String?) -> Classy_Auth_V1_Session {
        .with {
            $0.id = id
            $0.userID = userID
            $0.ipAddress = ipAddress
            $0.userAgent = userAgent
            $0.deviceName = deviceName
            $0.platform = platform
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
            $0.lastUsedTime = Google_Protobuf_Timestamp(date: lastUsedTime)
            $0.expireTime = Google_Protobuf_Timestamp(date: expireTime)
            $0.current = id == currentSessionID
        }
    }
}

extension ServiceAccountRecord {
    /// The wire form (never the secret).
    public var api: Classy_Auth_V1_ServiceAccount {
        .with {
            $0.id = id
            $0.clientID = clientID
            $0.name = name
            $0.description_p = description
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
        }
    }
}

extension LoginAttemptRecord {
    /// The wire form.
    public var api: Classy_Monitoring_V1_LoginAttempt {
        .with {
            $0.id = id
            $0.email = email
            $0.ipAddress = ipAddress
            $0.success = success
            $0.failureReason =
                failureReason.flatMap(Classy_Monitoring_V1_FailureReason.init(storeValue:)) ?? .unspecified
            $0.userID = userID ?? ""
            $0.sessionID = sessionID ?? ""
            $0.userAgent = userAgent
            $0.deviceName = deviceName
            $0.time = Google_Protobuf_Timestamp(date: time)
        }
    }
}

extension Classy_Monitoring_V1_FailureReason {
    /// The value stored in `LoginAttemptRecord.failureReason`.
    public var storeValue: String? {
        switch self {
        case .invalidCredentials: "invalid_credentials"
        case .accountLocked: "account_locked"
        case .accountDisabled: "account_disabled"
        case .ipBlocked: "ip_blocked"
        case .rateLimited: "rate_limited"
        default: nil
        }
    }

    /// The reason of a stored value.
    public init?(storeValue: String) {
        guard let reason = Self.allCases.first(where: { $0.storeValue == storeValue }) else { return nil }
        self = reason
    }
}

extension BlockedIPRecord {
    /// The wire form.
    public var api: Classy_Monitoring_V1_BlockedIP {
        .with {
            $0.ipAddress = ipAddress
            $0.reason = reason
            $0.attempts = Int32(clamping: attempts)
            if let blockedUntil, !permanent { $0.blockedUntil = Google_Protobuf_Timestamp(date: blockedUntil) }
            $0.permanent = permanent
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
            $0.createdBy = createdBy ?? ""
        }
    }
}

extension AuditEntryRecord {
    /// The wire form.
    public var api: Classy_Monitoring_V1_AuditLogEntry {
        .with {
            $0.id = id
            $0.action = action
            $0.actorUserID = actorUserID ?? ""
            $0.resourceType = resourceType
            $0.resourceID = resourceID
            $0.details = details
            $0.ipAddress = ipAddress
            $0.time = Google_Protobuf_Timestamp(date: time)
        }
    }
}

extension NotificationRecord {
    /// The wire form; the cursor is the opaque text of the per-user sequence.
    public var api: Classy_Users_V1_Notification {
        .with {
            $0.id = id
            $0.kind = Classy_Users_V1_NotificationKind(storeValue: kind) ?? .unspecified
            $0.title = title
            $0.body = body
            $0.data = data
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
            $0.read = read
            $0.cursor = PageToken.encode(["n": cursor])
        }
    }

    /// The per-user sequence of an opaque notification cursor; nil for an empty cursor.
    public static func sequence(ofCursor cursor: String, field: String) throws(ClassyError) -> Int64? {
        try PageToken.decode([String: Int64].self, from: cursor, field: field).map { position throws(ClassyError) in
            guard let value = position["n"], value >= 0 else {
                throw ClassyError.invalidField(field, "is not a cursor returned by this server")
            }
            return value
        }
    }
}

extension Classy_Users_V1_NotificationKind {
    /// The value stored in `NotificationRecord.kind`.
    public var storeValue: String {
        switch self {
        case .newSignIn: "new_sign_in"
        case .passwordChanged: "password_changed"
        case .sessionRevoked: "session_revoked"
        case .accountLocked: "account_locked"
        case .roleChanged: "role_changed"
        case .profileUpdated: "profile_updated"
        default: "unspecified"
        }
    }

    /// The kind of a stored value.
    public init?(storeValue: String) {
        guard let kind = Self.allCases.first(where: { $0.storeValue == storeValue && $0 != .unspecified }) else {
            return nil
        }
        self = kind
    }
}

extension NewSecurityEvent {
    /// A persisted event whose payload is the serialized `SecurityEvent` (sequence 0 until committed).
    public init(_ event: Classy_Monitoring_V1_SecurityEvent.OneOf_Event, time: Date) {
        let kind: SecurityEventKind
        switch event {
        case .loginAttempt: kind = .loginAttempt
        case .ipBlocked: kind = .ipBlocked
        case .ipUnblocked: kind = .ipUnblocked
        case .accountLocked: kind = .accountLocked
        case .refreshTokenReused: kind = .refreshTokenReused
        case .auditLog: kind = .auditLog
        case .securityMetrics, .heartbeat:
            preconditionFailure("metrics snapshots and heartbeats are never persisted")
        }
        let message = Classy_Monitoring_V1_SecurityEvent.with {
            $0.time = Google_Protobuf_Timestamp(date: time)
            $0.event = event
        }
        self.init(kind: kind, time: time, payload: (try? message.serializedBytes()) ?? Data())
    }
}

extension EventRecord {
    /// The wire form, with its persisted sequence.
    public var api: Classy_Monitoring_V1_SecurityEvent {
        var message = (try? Classy_Monitoring_V1_SecurityEvent(serializedBytes: payload)) ?? .init()
        message.sequence = sequence
        message.time = Google_Protobuf_Timestamp(date: time)
        return message
    }
}

extension SecurityEventKind {
    /// The wire enum of this kind.
    public var api: Classy_Monitoring_V1_SecurityEventType {
        switch self {
        case .loginAttempt: .loginAttempt
        case .ipBlocked: .ipBlocked
        case .ipUnblocked: .ipUnblocked
        case .accountLocked: .accountLocked
        case .refreshTokenReused: .refreshTokenReused
        case .auditLog: .auditLog
        }
    }
}

extension StoreEffects {
    /// Adds an audit entry and the `audit_log` security event that announces it.
    public mutating func auditWithEvent(_ entry: AuditEntryRecord) {
        audit(entry)
        event(NewSecurityEvent(.auditLog(entry.api), time: entry.time))
    }

    /// Effects holding one audited action.
    public static func audited(_ entry: AuditEntryRecord) -> StoreEffects {
        var effects = StoreEffects()
        effects.auditWithEvent(entry)
        return effects
    }
}
