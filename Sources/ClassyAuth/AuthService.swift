import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf

/// `classy.auth.v1.AuthService`: credentials, tokens, sessions and service accounts.
public struct AuthService: Classy_Auth_V1_AuthService.SimpleServiceProtocol {
    let store: any ClassyStoreProtocol
    let tokens: TokenService
    let passwordHasher: any PasswordHasher
    let clock: any WallClock
    let configuration: AuthConfiguration
    let logger: Logger
    /// The brute-force defence; one per service, so it sees every attempt in flight in this process.
    let loginGuard: LoginGuard

    public init(
        store: any ClassyStoreProtocol,
        tokens: TokenService,
        passwordHasher: any PasswordHasher,
        clock: any WallClock,
        configuration: AuthConfiguration,
        logger: Logger
    ) {
        self.store = store
        self.tokens = tokens
        self.passwordHasher = passwordHasher
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.loginGuard = LoginGuard(store: store, clock: clock, policy: configuration.bruteForce, logger: logger)
    }

    // MARK: Sign-in

    public func register(
        request: Classy_Auth_V1_RegisterRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_RegisterResponse {
        try await passwordHasher.withHashingExecutor { try await registerUser(request) }
    }

    private func registerUser(
        _ request: Classy_Auth_V1_RegisterRequest
    ) async throws -> Classy_Auth_V1_RegisterResponse {
        guard configuration.registrationOpen else {
            throw ClassyError(.registrationClosed, "registration is closed: ask an admin to create your account")
        }
        var check = FieldValidator()
        let email = check.email("email", request.email)
        if let problem = PasswordPolicy.standard.validate(request.password) {
            check.fail("password", problem.description)
        }
        check.text("first_name", request.firstName, max: 100)
        check.text("last_name", request.lastName, max: 100)
        let client = ClientDetails(request.client, check: &check)
        try check.finish()

        let now = clock.now()
        let requestContext = RequestContext.current
        let user = try await store.createUser(
            NewUser(
                email: email,
                passwordHash: try await passwordHasher.hash(request.password),
                firstName: request.firstName,
                lastName: request.lastName,
                role: .user,
                createTime: now
            ),
            effects: .none
        )
        let (session, pair) = try newSession(
            for: user, client: client, ipAddress: requestContext?.clientIP ?? "", now: now)
        var effects = StoreEffects()
        effects.auditWithEvent(
            AuditEntryRecord(
                action: "user.register", actorUserID: user.id, resourceType: "user", resourceID: user.id,
                details: ["email": user.email], ipAddress: requestContext?.clientIP ?? "", time: now
            )
        )
        _ = try await store.createSession(session, effects: effects)
        return .with {
            $0.tokens = pair.api
            $0.user = user.api
        }
    }

    public func login(
        request: Classy_Auth_V1_LoginRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_LoginResponse {
        try await passwordHasher.withHashingExecutor { try await signIn(request) }
    }

    private func signIn(_ request: Classy_Auth_V1_LoginRequest) async throws -> Classy_Auth_V1_LoginResponse {
        var check = FieldValidator()
        let email = check.email("email", request.email)
        if request.password.isEmpty {
            check.fail("password", "must not be empty")
        } else if request.password.utf8.count > 4096 {
            check.fail("password", "is too long")
        }
        let client = ClientDetails(request.client, check: &check)
        try check.finish()

        let ipAddress = RequestContext.current?.clientIP ?? ""
        let attempt = LoginContext(
            email: email, ipAddress: ipAddress, userAgent: client.userAgent, deviceName: client.deviceName
        )
        let guardian = loginGuard
        defer { guardian.finish(attempt) }
        try await guardian.admit(attempt)

        let invalid = ClassyError(.invalidCredentials, "wrong email or password")
        guard let user = try await guardian.account(for: attempt) else {
            // Same cost as a real verification, so timing does not tell which emails exist.
            await passwordHasher.verifyDummy(password: request.password)
            try await guardian.recordFailure(attempt, reason: .invalidCredentials, userID: nil)
            throw invalid
        }
        guard try await passwordHasher.verify(request.password, against: user.passwordHash) else {
            try await guardian.recordFailure(attempt, reason: .invalidCredentials, userID: user.id)
            throw invalid
        }
        guard user.isActive else {
            try await guardian.recordFailure(attempt, reason: .accountDisabled, userID: user.id)
            throw ClassyError(.accountDisabled, "this account is deactivated")
        }

        let now = clock.now()
        let (session, pair) = try newSession(for: user, client: client, ipAddress: ipAddress, now: now)
        var signedIn = try await guardian.recordSuccess(
            attempt, session: session, effects: StoreEffects(),
            newDeviceNotification: newDeviceNotification(for: user, client: client, ipAddress: ipAddress, now: now)
        )
        if passwordHasher.needsRehash(user.passwordHash) {
            // Parameters were raised since this hash was made: upgrade it while we hold the password.
            let upgraded = try await passwordHasher.hash(request.password)
            signedIn = try await store.updateUser(
                id: user.id, ifETag: nil, changes: UserChanges(passwordHash: upgraded), now: now
            ).user
        }
        return .with {
            $0.tokens = pair.api
            $0.user = signedIn.api
        }
    }

    public func refresh(
        request: Classy_Auth_V1_RefreshRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_RefreshResponse {
        let presented = request.refreshToken
        let invalid = ClassyError(.tokenInvalid, "unknown or malformed refresh token")
        guard !presented.isEmpty, presented.utf8.count <= 512 else { throw invalid }
        var check = FieldValidator()
        _ = ClientDetails(request.client, check: &check)
        try check.finish()

        let presentedHash = OpaqueToken.hash(presented)
        guard let (found, account) = try await store.sessionWithUser(refreshHash: presentedHash) else { throw invalid }
        let revoked = ClassyError(.sessionRevoked, "this session was revoked or has expired: sign in again")
        guard let user = account, user.isActive, !user.deleted else {
            if found.revokedTime == nil {
                try await store.revokeSession(id: found.id, reason: "user_inactive", now: clock.now())
            }
            throw revoked
        }

        let now = clock.now()
        let expireTime = now.addingTimeInterval(configuration.refreshTokenLifetime)
        let pair = try TokenPair(
            tokens: tokens, userID: user.id, sessionID: found.id, role: user.role, sessionExpireTime: expireTime
        )
        let ipAddress = RequestContext.current?.clientIP ?? ""
        let result = try await store.rotateRefreshToken(
            RefreshRotation(
                sessionID: found.id,
                presentedHash: presentedHash,
                newHash: pair.refreshHash,
                graceUntil: now.addingTimeInterval(configuration.refreshGrace),
                newExpireTime: expireTime,
                accessTokenID: pair.accessTokenID,
                issuedPayload: try RefreshReplay.seal(pair.api, presentedToken: presented),
                now: now
            ),
            effects: .none,
            reuseEffects: reuseEffects(session: found, ipAddress: ipAddress, now: now)
        )
        switch result {
        case .rotated:
            return .with {
                $0.tokens = pair.api
                $0.user = user.api
            }
        case .withinGrace(let session):
            guard let sealed = session.lastIssuedPayload,
                let replayed = RefreshReplay.open(sealed, presentedToken: presented)
            else { throw invalid }
            return .with {
                $0.tokens = replayed
                $0.user = user.api
            }
        case .reused:
            logger.warning(
                "refresh token reused: session revoked",
                metadata: ["session_id": "\(found.id)", "user_id": "\(user.id)", "client_ip": "\(ipAddress)"]
            )
            throw ClassyError(
                .refreshTokenReused, "this refresh token was already used: the session is revoked, sign in again"
            )
        case .revokedOrExpired:
            throw revoked
        case .notFound:
            throw invalid
        }
    }

    // MARK: Sessions

    public func logout(
        request: Classy_Auth_V1_LogoutRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_LogoutResponse {
        let caller = try RequestContext.requireCaller()
        guard let sessionID = caller.sessionID else { throw ClassyError(.forbidden, "service tokens have no session") }
        let scope: SessionRevocationScope
        switch request.scope {
        case .unspecified, .current: scope = .session(id: sessionID)
        case .others: scope = .allOfUserExcept(userID: caller.userID, keptSessionID: sessionID)
        case .all: scope = .allOfUser(userID: caller.userID)
        case .UNRECOGNIZED: throw ClassyError.invalidField("scope", "is not a LogoutScope")
        }
        let now = clock.now()
        var effects = StoreEffects()
        if request.scope == .others || request.scope == .all {
            effects.notify(
                NewNotification(
                    userID: caller.userID,
                    kind: Classy_Users_V1_NotificationKind.sessionRevoked.storeValue,
                    title: "Signed out elsewhere",
                    body: "Your other sessions were signed out.",
                    data: ["by_session_id": sessionID, "ip_address": RequestContext.current?.clientIP ?? ""],
                    createTime: now
                )
            )
        }
        let revoked = try await store.revokeSessions(scope, reason: "logout", now: now, effects: effects)
        return .with { $0.revokedSessions = Int32(clamping: revoked.count) }
    }

    public func changePassword(
        request: Classy_Auth_V1_ChangePasswordRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_ChangePasswordResponse {
        try await passwordHasher.withHashingExecutor { try await replacePassword(request) }
    }

    private func replacePassword(
        _ request: Classy_Auth_V1_ChangePasswordRequest
    ) async throws -> Classy_Auth_V1_ChangePasswordResponse {
        let caller = try RequestContext.requireCaller()
        var check = FieldValidator()
        if request.currentPassword.isEmpty { check.fail("current_password", "must not be empty") }
        if let problem = PasswordPolicy.standard.validate(request.newPassword) {
            check.fail("new_password", problem.description)
        }
        try check.finish()
        guard let sessionID = caller.sessionID, let user = try await store.user(id: caller.userID) else {
            throw ClassyError(.sessionRevoked, "the session of this token was revoked")
        }
        guard try await passwordHasher.verify(request.currentPassword, against: user.passwordHash) else {
            throw ClassyError(.invalidCredentials, "the current password is wrong")
        }
        let newHash = try await passwordHasher.hash(request.newPassword)
        let now = clock.now()
        let ipAddress = RequestContext.current?.clientIP ?? ""
        var effects = StoreEffects()
        effects.auditWithEvent(
            AuditEntryRecord(
                action: "password.change", actorUserID: user.id, resourceType: "user", resourceID: user.id,
                details: ["kept_other_sessions": request.keepOtherSessions ? "true" : "false"],
                ipAddress: ipAddress, time: now
            )
        )
        effects.notify(
            NewNotification(
                userID: user.id,
                kind: Classy_Users_V1_NotificationKind.passwordChanged.storeValue,
                title: "Password changed",
                body: "The password of your account was changed.",
                data: ["session_id": sessionID, "ip_address": ipAddress],
                createTime: now
            )
        )
        _ = try await store.updateUser(
            id: user.id,
            ifETag: nil,
            changes: UserChanges(passwordHash: newHash),
            revokingSessions: request.keepOtherSessions
                ? nil : .allExcept(keptSessionID: sessionID, reason: "password_changed"),
            effects: effects,
            now: now
        )
        // Fresh tokens for this session: rotate its refresh token in place.
        guard let session = try await store.session(id: sessionID) else {
            throw ClassyError(.sessionRevoked, "the session of this token was revoked")
        }
        let expireTime = now.addingTimeInterval(configuration.refreshTokenLifetime)
        let pair = try TokenPair(
            tokens: tokens, userID: user.id, sessionID: sessionID, role: user.role, sessionExpireTime: expireTime
        )
        let result = try await store.rotateRefreshToken(
            RefreshRotation(
                sessionID: sessionID,
                presentedHash: session.currentRefreshHash,
                newHash: pair.refreshHash,
                graceUntil: now,
                newExpireTime: expireTime,
                accessTokenID: pair.accessTokenID,
                now: now
            )
        )
        guard case .rotated = result else {
            throw ClassyError(.sessionRevoked, "the session changed during the password change: sign in again")
        }
        return .with { $0.tokens = pair.api }
    }

    public func listSessions(
        request: Classy_Auth_V1_ListSessionsRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_ListSessionsResponse {
        let caller = try RequestContext.requireCaller()
        var check = FieldValidator()
        let limit = check.pageSize(request.pageSize)
        let userID = request.userID.isEmpty ? caller.userID : check.identifier("user_id", request.userID)
        try check.finish()
        let after = try PageToken.decode(SessionPosition.self, from: request.pageToken)
        if userID != caller.userID {
            guard caller.role.isAdmin else {
                throw ClassyError(.forbidden, "only admins may list other users' sessions")
            }
            guard let user = try await store.user(id: userID), !user.deleted else {
                throw ClassyError(.notFound, "no such user")
            }
        }
        let sessions = try await store.activeSessions(
            userID: userID, now: clock.now(), after: after?.cursor, limit: limit + 1
        )
        let page = sessions.prefix(limit)
        return .with {
            $0.sessions = page.map { $0.api(currentSessionID: caller.sessionID) }
            if sessions.count > limit, let last = page.last {
                $0.nextPageToken = PageToken.encode(SessionPosition(last))
            }
        }
    }

    public func revokeSession(
        request: Classy_Auth_V1_RevokeSessionRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_RevokeSessionResponse {
        let caller = try RequestContext.requireCaller()
        var check = FieldValidator()
        let sessionID = check.identifier("session_id", request.sessionID)
        try check.finish()
        let notFound = ClassyError(.notFound, "no such session")
        guard let session = try await store.session(id: sessionID) else { throw notFound }
        let own = session.userID == caller.userID
        guard own || caller.role.isAdmin else { throw notFound }
        let now = clock.now()
        let ipAddress = RequestContext.current?.clientIP ?? ""
        var effects = StoreEffects()
        effects.notify(
            NewNotification(
                userID: session.userID,
                kind: Classy_Users_V1_NotificationKind.sessionRevoked.storeValue,
                title: "Session signed out",
                body: own
                    ? "One of your sessions was signed out." : "An administrator signed out one of your sessions.",
                data: ["session_id": session.id, "device_name": session.deviceName, "by": own ? "user" : "admin"],
                createTime: now
            )
        )
        if !own {
            effects.auditWithEvent(
                AuditEntryRecord(
                    action: "session.revoke", actorUserID: caller.userID, resourceType: "session",
                    resourceID: session.id, details: ["user_id": session.userID], ipAddress: ipAddress, time: now
                )
            )
        }
        try await store.revokeSession(
            id: session.id, reason: own ? "revoked_by_user" : "revoked_by_admin", now: now, effects: effects)
        return .init()
    }

    // MARK: Tokens and keys

    public func introspectToken(
        request: Classy_Auth_V1_IntrospectTokenRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_IntrospectTokenResponse {
        let token = request.token
        guard !token.isEmpty, token.utf8.count <= 8192 else { return .init() }
        if token.contains("."), let claims = try? tokens.verify(token) {
            let authenticator = AccessTokenAuthenticator(tokens: tokens, store: store, clock: clock)
            guard let caller = try? await authenticator.caller(for: claims) else { return .init() }
            return .with {
                $0.active = true
                $0.userID = caller.userID
                $0.sessionID = caller.sessionID ?? ""
                $0.role = caller.role.api
                $0.tokenType = caller.isService ? .service : .access
                $0.issueTime = Google_Protobuf_Timestamp(date: claims.issuedAt)
                $0.expireTime = Google_Protobuf_Timestamp(date: claims.expiresAt)
            }
        }
        let hash = OpaqueToken.hash(token)
        let now = clock.now()
        guard let session = try await store.session(refreshHash: hash), session.currentRefreshHash == hash,
            session.isActive(at: now),
            let user = try await store.user(id: session.userID), user.isActive, !user.deleted
        else { return .init() }
        return .with {
            $0.active = true
            $0.userID = user.id
            $0.sessionID = session.id
            $0.role = user.role.api
            $0.tokenType = .refresh
            $0.issueTime = Google_Protobuf_Timestamp(
                date: session.expireTime.addingTimeInterval(-configuration.refreshTokenLifetime))
            $0.expireTime = Google_Protobuf_Timestamp(date: session.expireTime)
        }
    }

    public func getSigningKeys(
        request: Classy_Auth_V1_GetSigningKeysRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_GetSigningKeysResponse {
        // The signing key first, then retired keys newest first.
        let keys = try await store.publishedSigningKeys(now: clock.now()).sorted {
            ($0.retireTime == nil ? 1 : 0, $0.createTime) > ($1.retireTime == nil ? 1 : 0, $1.createTime)
        }
        let material = keys.map {
            SigningKeyMaterial(keyID: $0.id, privateKey: Data(), publicKey: $0.publicKey, createTime: $0.createTime)
        }
        return .with {
            $0.keys = keys.map { key in
                .with {
                    $0.keyID = key.id
                    $0.algorithm = TokenService.algorithm
                    $0.publicKey = key.publicKey
                    $0.createTime = Google_Protobuf_Timestamp(date: key.createTime)
                }
            }
            $0.jwksJson = JWKSDocument.json(for: material)
        }
    }

    public func issueServiceToken(
        request: Classy_Auth_V1_IssueServiceTokenRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_IssueServiceTokenResponse {
        let invalid = ClassyError(.invalidCredentials, "unknown client or wrong secret")
        guard !request.clientID.isEmpty, request.clientID.count <= 100, !request.clientSecret.isEmpty,
            request.clientSecret.utf8.count <= 512
        else { throw invalid }
        let account = try await store.serviceAccount(clientID: request.clientID)
        // Compare against a throwaway hash for unknown clients too, so both paths cost the same.
        let expected = account?.secretHash ?? Self.unknownClientHash
        guard OpaqueToken.matches(request.clientSecret, hash: expected), let account, !account.deleted else {
            throw invalid
        }
        let (token, claims) = try tokens.issueAccessToken(userID: account.id, sessionID: nil, role: .service)
        return .with {
            $0.accessToken = token
            $0.expireTime = Google_Protobuf_Timestamp(date: claims.expiresAt)
        }
    }

    static let unknownClientHash = OpaqueToken.hash(OpaqueToken.generate())

    // MARK: Service accounts

    public func createServiceAccount(
        request: Classy_Auth_V1_CreateServiceAccountRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_CreateServiceAccountResponse {
        let caller = try RequestContext.requireCaller()
        var check = FieldValidator()
        check.text("name", request.name, min: 1, max: 100)
        check.text("description", request.description_p, max: 500)
        try check.finish()
        let now = clock.now()
        let secret = OpaqueToken.generate()
        let account = ServiceAccountRecord(
            clientID: "svc_" + OpaqueToken.generate(bytes: 12),
            name: request.name,
            description: request.description_p,
            secretHash: OpaqueToken.hash(secret),
            createTime: now
        )
        _ = try await store.createServiceAccount(
            account,
            effects: .audited(
                AuditEntryRecord(
                    action: "service_account.create", actorUserID: caller.userID, resourceType: "service_account",
                    resourceID: account.id, details: ["name": account.name, "client_id": account.clientID],
                    ipAddress: RequestContext.current?.clientIP ?? "", time: now
                )
            )
        )
        return .with {
            $0.serviceAccount = account.api
            $0.clientSecret = secret
        }
    }

    public func listServiceAccounts(
        request: Classy_Auth_V1_ListServiceAccountsRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_ListServiceAccountsResponse {
        var check = FieldValidator()
        let limit = check.pageSize(request.pageSize)
        try check.finish()
        let after = try PageToken.decode(SessionPosition.self, from: request.pageToken)
        let accounts = try await store.listServiceAccounts(after: after?.cursor, limit: limit + 1)
        let page = accounts.prefix(limit)
        return .with {
            $0.serviceAccounts = page.map(\.api)
            if accounts.count > limit, let last = page.last {
                $0.nextPageToken = PageToken.encode(SessionPosition(time: last.createTime, id: last.id))
            }
        }
    }

    public func deleteServiceAccount(
        request: Classy_Auth_V1_DeleteServiceAccountRequest,
        context: ServerContext
    ) async throws -> Classy_Auth_V1_DeleteServiceAccountResponse {
        let caller = try RequestContext.requireCaller()
        var check = FieldValidator()
        let id = check.identifier("id", request.id)
        try check.finish()
        let now = clock.now()
        let deleted = try await store.deleteServiceAccount(
            id: id,
            now: now,
            effects: .audited(
                AuditEntryRecord(
                    action: "service_account.delete", actorUserID: caller.userID, resourceType: "service_account",
                    resourceID: id, ipAddress: RequestContext.current?.clientIP ?? "", time: now
                )
            )
        )
        guard deleted != nil else { throw ClassyError(.notFound, "no such service account") }
        return .init()
    }
}
