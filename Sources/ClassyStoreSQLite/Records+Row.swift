import ClassyCore
import ClassyStore
import Foundation
import GRDB

extension UserRecord {
    /// Decodes a `users` row.
    init(row: Row) throws {
        let roleValue: String = row["role"]
        guard let role = Role(rawValue: roleValue) else {
            throw StoreError.invalid("unknown role \(roleValue) in users row")
        }
        self.init(
            id: row["id"],
            email: row["email"],
            passwordHash: row["password_hash"],
            firstName: row["first_name"],
            lastName: row["last_name"],
            role: role,
            isPrimaryAdmin: row["is_primary_admin"],
            isActive: row["is_active"],
            createTime: row.date("create_time"),
            updateTime: row.date("update_time"),
            lastLoginTime: row.optionalDate("last_login_time"),
            etag: row["etag"],
            deleted: row["deleted"],
            deleteTime: row.optionalDate("delete_time"),
            changeSequence: row["change_sequence"]
        )
    }
}

extension SessionRecord {
    /// Decodes a `sessions` row.
    init(row: Row) {
        self.init(
            id: row["id"],
            userID: row["user_id"],
            ipAddress: row["ip_address"],
            userAgent: row["user_agent"],
            deviceName: row["device_name"],
            platform: row["platform"],
            appVersion: row["app_version"],
            createTime: row.date("create_time"),
            lastUsedTime: row.date("last_used_time"),
            expireTime: row.date("expire_time"),
            revokedTime: row.optionalDate("revoked_time"),
            revokeReason: row["revoke_reason"],
            currentRefreshHash: row["current_refresh_hash"],
            previousRefreshHash: row["previous_refresh_hash"],
            previousGraceUntil: row.optionalDate("previous_grace_until"),
            generation: row["generation"],
            currentAccessTokenID: row["current_access_token_id"],
            lastIssuedPayload: row["last_issued_payload"]
        )
    }
}

extension LoginAttemptRecord {
    /// Decodes a `login_attempts` row.
    init(row: Row) {
        self.init(
            id: row["id"],
            email: row["email"],
            ipAddress: row["ip_address"],
            success: row["success"],
            failureReason: row["failure_reason"],
            userID: row["user_id"],
            sessionID: row["session_id"],
            userAgent: row["user_agent"],
            deviceName: row["device_name"],
            time: row.date("time")
        )
    }
}

extension BlockedIPRecord {
    /// Decodes a `blocked_ips` row.
    init(row: Row) {
        self.init(
            id: row["id"],
            ipAddress: row["ip_address"],
            reason: row["reason"],
            attempts: row["attempts"],
            blockedUntil: row.optionalDate("blocked_until"),
            permanent: row["permanent"],
            createTime: row.date("create_time"),
            createdBy: row["created_by"],
            unblockedTime: row.optionalDate("unblocked_time"),
            unblockReason: row["unblock_reason"]
        )
    }
}

extension AccountLockRecord {
    /// Decodes an `account_locks` row.
    init(row: Row) {
        self.init(
            email: row["email"],
            lockedUntil: row.optionalDate("locked_until"),
            lockCount: row["lock_count"],
            lastLockTime: row.date("last_lock_time"),
            unlockTime: row.optionalDate("unlock_time")
        )
    }
}

extension AuditEntryRecord {
    /// Decodes an `audit_logs` row.
    init(row: Row) throws {
        self.init(
            id: row["id"],
            action: row["action"],
            actorUserID: row["actor_user_id"],
            resourceType: row["resource_type"],
            resourceID: row["resource_id"],
            details: try StringMapCoding.decode(row["details"]),
            ipAddress: row["ip_address"],
            time: row.date("time")
        )
    }
}

extension EventRecord {
    /// Decodes an `events` row.
    init(row: Row) throws {
        let kindValue: String = row["kind"]
        guard let kind = SecurityEventKind(rawValue: kindValue) else {
            throw StoreError.invalid("unknown event kind \(kindValue) in events row")
        }
        let sequence: Int64 = row["sequence"]
        self.init(sequence: UInt64(sequence), kind: kind, time: row.date("time"), payload: row["payload"])
    }
}

extension NotificationRecord {
    /// Decodes a `notifications` row.
    init(row: Row) throws {
        self.init(
            id: row["id"],
            userID: row["user_id"],
            kind: row["kind"],
            title: row["title"],
            body: row["body"],
            data: try StringMapCoding.decode(row["data"]),
            createTime: row.date("create_time"),
            read: row["read"],
            cursor: row["cursor"]
        )
    }
}

extension IdempotencyRecord {
    /// Decodes an `idempotency_keys` row.
    init(row: Row) {
        self.init(
            callerKey: row["caller_key"],
            key: row["key"],
            method: row["method"],
            responseBytes: row["response"],
            createTime: row.date("create_time")
        )
    }
}

extension ServiceAccountRecord {
    /// Decodes a `service_accounts` row.
    init(row: Row) {
        self.init(
            id: row["id"],
            clientID: row["client_id"],
            name: row["name"],
            description: row["description"],
            secretHash: row["secret_hash"],
            createTime: row.date("create_time"),
            deleted: row["deleted"],
            deleteTime: row.optionalDate("delete_time")
        )
    }
}

extension SigningKeyRecord {
    /// Decodes a `signing_keys` row.
    init(row: Row) {
        self.init(
            id: row["id"],
            algorithm: row["algorithm"],
            privateKey: row["private_key"],
            publicKey: row["public_key"],
            createTime: row.date("create_time"),
            retireTime: row.optionalDate("retire_time"),
            expireTime: row.optionalDate("expire_time")
        )
    }
}
