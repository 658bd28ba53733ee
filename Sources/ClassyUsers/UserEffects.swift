import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation

/// The audit entries and notifications that UsersService writes in the same transaction as a change.
///
/// Notification kinds created here: ROLE_CHANGED, PROFILE_UPDATED and SESSION_REVOKED (when an admin
/// deactivates or deletes an account). AuthService and the brute-force guard create the others.
enum UserEffects {
    /// The effects of CreateUser: an audited `user.create`.
    static func created(_ user: NewUser, by actor: Caller, from ipAddress: String) -> StoreEffects {
        .audited(
            AuditEntryRecord(
                action: "user.create",
                actorUserID: actor.userID,
                resourceType: "user",
                resourceID: user.id,
                details: ["email": FieldValidator.normaliseEmail(user.email), "role": user.role.claim],
                ipAddress: ipAddress,
                time: user.createTime
            )
        )
    }

    /// The effects of UpdateUser: an audited `user.update` and the notifications the target gets.
    static func updated(
        _ user: UserRecord,
        with changes: UserChanges,
        by actor: Caller,
        from ipAddress: String,
        now: Date
    ) -> StoreEffects {
        var details: [String: String] = [:]
        var fields: [String] = []
        if changes.firstName != nil { fields.append("first_name") }
        if changes.lastName != nil { fields.append("last_name") }
        if let role = changes.role {
            fields.append("role")
            details["previous_role"] = user.role.claim
            details["role"] = role.claim
        }
        if let isActive = changes.isActive {
            fields.append("is_active")
            details["is_active"] = String(isActive)
        }
        details["fields"] = fields.joined(separator: ",")
        var effects = StoreEffects.audited(
            AuditEntryRecord(
                action: "user.update",
                actorUserID: actor.userID,
                resourceType: "user",
                resourceID: user.id,
                details: details,
                ipAddress: ipAddress,
                time: now
            )
        )
        if let role = changes.role, role != user.role {
            effects.notify(roleChanged(user.id, from: user.role, to: role, now: now))
        }
        let profileFields = fields.filter { $0 == "first_name" || $0 == "last_name" }
        if !profileFields.isEmpty {
            effects.notify(
                profileUpdated(user.id, fields: profileFields, data: ["actor_user_id": actor.userID], now: now)
            )
        }
        if changes.isActive == false, user.isActive {
            effects.notify(sessionsRevoked(user.id, reason: "account_deactivated", now: now))
        }
        return effects
    }

    /// The effects of DeleteUser: an audited `user.delete` and a SESSION_REVOKED notification, which ends
    /// the user's open notification streams and tells their apps to sign out.
    static func deleted(_ user: UserRecord, by actor: Caller, from ipAddress: String, now: Date) -> StoreEffects {
        var effects = StoreEffects.audited(
            AuditEntryRecord(
                action: "user.delete",
                actorUserID: actor.userID,
                resourceType: "user",
                resourceID: user.id,
                details: ["email": user.email, "role": user.role.claim],
                ipAddress: ipAddress,
                time: now
            )
        )
        effects.notify(sessionsRevoked(user.id, reason: "account_deleted", now: now))
        return effects
    }

    /// The effects of UpdateMe: PROFILE_UPDATED naming the session it came from, so the user's other
    /// devices learn of the change and the originating one can ignore it.
    static func profileUpdatedByOwner(_ caller: Caller, changes: UserChanges, now: Date) -> StoreEffects {
        var fields: [String] = []
        if changes.firstName != nil { fields.append("first_name") }
        if changes.lastName != nil { fields.append("last_name") }
        var effects = StoreEffects()
        effects.notify(
            profileUpdated(caller.userID, fields: fields, data: ["session_id": caller.sessionID ?? ""], now: now)
        )
        return effects
    }

    private static func roleChanged(_ userID: String, from old: Role, to new: Role, now: Date) -> NewNotification {
        NewNotification(
            userID: userID,
            kind: Classy_Users_V1_NotificationKind.roleChanged.storeValue,
            title: "Your role changed",
            body: "An administrator changed your role from \(old.displayName) to \(new.displayName).",
            data: ["previous_role": old.claim, "role": new.claim],
            createTime: now
        )
    }

    private static func profileUpdated(
        _ userID: String,
        fields: [String],
        data: [String: String],
        now: Date
    ) -> NewNotification {
        var data = data
        data["fields"] = fields.joined(separator: ",")
        return NewNotification(
            userID: userID,
            kind: Classy_Users_V1_NotificationKind.profileUpdated.storeValue,
            title: "Your profile was updated",
            body: data["session_id"] == nil
                ? "An administrator updated your profile."
                : "Your profile was updated from one of your sessions.",
            data: data,
            createTime: now
        )
    }

    private static func sessionsRevoked(_ userID: String, reason: String, now: Date) -> NewNotification {
        NewNotification(
            userID: userID,
            kind: Classy_Users_V1_NotificationKind.sessionRevoked.storeValue,
            title: "You were signed out",
            body: reason == "account_deleted"
                ? "An administrator deleted your account; all of your sessions were ended."
                : "An administrator deactivated your account; all of your sessions were ended.",
            data: ["reason": reason, "scope": "all"],
            createTime: now
        )
    }
}

extension Role {
    /// The role's name in notification texts.
    fileprivate var displayName: String {
        switch self {
        case .user: "user"
        case .admin: "admin"
        case .superAdmin: "super admin"
        case .service: "service"
        }
    }
}
