import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyServer
import ClassyStore
import ClassyTesting
import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// AuthService over real TCP.
@Suite("AuthService")
struct AuthServiceTests {
    typealias Client = Classy_Auth_V1_AuthService.Client<HTTP2ClientTransport.Posix>

    static func register(
        _ auth: Client, email: String = "ada@example.com", password: String = "a fine long password",
        device: String = "laptop"
    ) async throws -> Classy_Auth_V1_RegisterResponse {
        try await auth.register(
            .with {
                $0.email = email
                $0.password = password
                $0.firstName = "Ada"
                $0.lastName = "Lovelace"
                $0.client = .with {
                    $0.deviceName = device
                    $0.platform = "linux"
                    $0.userAgent = "tests/1"
                }
            }
        )
    }

    static func login(
        _ auth: Client, email: String = "ada@example.com", password: String = "a fine long password",
        device: String = "laptop"
    ) async throws -> Classy_Auth_V1_LoginResponse {
        try await auth.login(
            .with {
                $0.email = email
                $0.password = password
                $0.client = .with {
                    $0.deviceName = device
                    $0.platform = "linux"
                    $0.userAgent = "tests/1"
                }
            }
        )
    }

    // MARK: Register and Login

    @Test("Register creates a USER account and a session; the access token works at once")
    func register() async throws {
        try await withTestServer { server async throws in
            let response = try await Self.register(server.auth, email: "  Ada@Example.com ")
            #expect(response.user.email == "ada@example.com")
            #expect(response.user.role == .user)
            #expect(response.tokens.tokenType == "Bearer")
            #expect(response.tokens.refreshToken.count >= 22)
            let sessions = try await server.auth.listSessions(.init(), metadata: .bearer(response.tokens.accessToken))
            #expect(sessions.sessions.map(\.id) == [response.tokens.sessionID])
            #expect(sessions.sessions.first?.current == true)
            #expect(sessions.sessions.first?.deviceName == "laptop")
        }
    }

    @Test("Register rejects taken emails, bad fields (all named) and closed registration")
    func registerErrors() async throws {
        try await withTestServer { server async throws in
            _ = try await Self.register(server.auth)
            _ = await expectRPCError(.alreadyExists, .emailTaken) {
                _ = try await Self.register(server.auth, email: "ADA@example.com")
            }
            let error = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.auth.register(
                    .with {
                        $0.email = "not-an-email"
                        $0.password = "short"
                        $0.firstName = String(repeating: "x", count: 101)
                    }
                )
            }
            #expect(Set(error?.fieldViolations.map(\.field) ?? []) == ["email", "password", "first_name"])
            _ = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await Self.register(server.auth, email: "b@example.com", password: "password123")
            }
        }
        try await withTestServer(configure: { $0.registration = .closed }) { server async throws in
            _ = await expectRPCError(.permissionDenied, .registrationClosed) {
                _ = try await Self.register(server.auth)
            }
        }
    }

    @Test("Login: right password signs in; wrong password and unknown email look the same")
    func login() async throws {
        try await withTestServer { server async throws in
            _ = try await Self.register(server.auth)
            let response = try await Self.login(server.auth)
            #expect(response.user.email == "ada@example.com")
            #expect(response.user.hasLastLoginTime)
            let wrong = await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await Self.login(server.auth, password: "the wrong password")
            }
            let unknown = await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await Self.login(server.auth, email: "nobody@example.com")
            }
            #expect(wrong?.message == unknown?.message)
            _ = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await Self.login(server.auth, email: "")
            }
        }
    }

    @Test("Login of a deactivated user with the right password is ACCOUNT_DISABLED")
    func deactivatedLogin() async throws {
        try await withTestServer { server async throws in
            let registered = try await Self.register(server.auth)
            _ = try await server.store.updateUser(
                id: registered.user.id, ifETag: nil, changes: UserChanges(isActive: false),
                revokingSessions: .all(reason: "deactivated"), effects: .none, now: server.clock.now()
            )
            _ = await expectRPCError(.permissionDenied, .accountDisabled) {
                _ = try await Self.login(server.auth)
            }
            _ = await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await Self.login(server.auth, password: "the wrong password")
            }
        }
    }

    @Test("a sign-in from a new device notifies the user; the same device does not")
    func newDeviceNotification() async throws {
        try await withTestServer { server async throws in
            let registered = try await Self.register(server.auth)
            _ = try await Self.login(server.auth)
            #expect(try await server.store.unreadNotificationCount(userID: registered.user.id) == 0)
            _ = try await Self.login(server.auth, device: "phone")
            let page = try await server.store.listNotifications(
                userID: registered.user.id, unreadOnly: true, before: nil, limit: 10
            )
            #expect(page.notifications.map(\.kind) == ["new_sign_in"])
            #expect(page.notifications.first?.data["device_name"] == "phone")
        }
    }

    @Test("unknown emails cost about as much as wrong passwords (Argon2id at OWASP parameters)")
    func timingParity() async throws {
        let hasher = try await Argon2idPasswordHasher()
        try await withTestServer(
            configure: {
                // Keep the brute-force defence out of the way: every attempt must reach the hasher.
                $0.bruteForce.email.threshold = 1000
                $0.bruteForce.ip.threshold = 1000
            },
            passwordHasher: hasher
        ) { server async throws in
            _ = try await Self.register(server.auth)
            // Interleave the two kinds so load from other tests running alongside hits both alike.
            var known: [Double] = []
            var unknown: [Double] = []
            for round in 0..<12 {
                for email in round.isMultiple(of: 2)
                    ? ["ada@example.com", "nobody@example.com"] : ["nobody@example.com", "ada@example.com"]
                {
                    let start = ContinuousClock.now
                    _ = try? await Self.login(server.auth, email: email, password: "the wrong password")
                    let elapsed = ContinuousClock.now - start
                    let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
                    if email == "ada@example.com" { known.append(seconds) } else { unknown.append(seconds) }
                }
            }
            let knownMedian = known.sorted()[known.count / 2]
            let unknownMedian = unknown.sorted()[unknown.count / 2]
            // Both pay one Argon2id verification; a missing dummy hash would make unknown ~10x faster.
            #expect(unknownMedian > knownMedian * 0.4, "known \(knownMedian) s, unknown \(unknownMedian) s")
            #expect(unknownMedian < knownMedian * 2.5, "known \(knownMedian) s, unknown \(unknownMedian) s")
        }
    }

    // MARK: Refresh

    @Test("Refresh rotates the token; the previous one replays the same pair within grace")
    func refreshRotation() async throws {
        try await withTestServer { server async throws in
            let first = try await Self.register(server.auth).tokens
            server.clock.advance(by: 1)
            let second = try await server.auth.refresh(.with { $0.refreshToken = first.refreshToken })
            #expect(second.tokens.refreshToken != first.refreshToken)
            #expect(second.tokens.sessionID == first.sessionID)
            #expect(second.user.email == "ada@example.com")
            let replay = try await server.auth.refresh(.with { $0.refreshToken = first.refreshToken })
            #expect(replay.tokens == second.tokens)
            let third = try await server.auth.refresh(.with { $0.refreshToken = second.tokens.refreshToken })
            #expect(third.tokens.refreshToken != second.tokens.refreshToken)
            _ = try await server.users.listUserChanges(.init(), metadata: .bearer(third.tokens.accessToken))
        }
    }

    @Test("concurrent Refresh of one token: exactly one rotation, every caller gets the same pair")
    func concurrentRefresh() async throws {
        try await withTestServer { server async throws in
            let first = try await Self.register(server.auth).tokens
            let results = try await withThrowingTaskGroup(of: Classy_Auth_V1_Tokens.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await server.auth.refresh(.with { $0.refreshToken = first.refreshToken }).tokens
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 20)
            #expect(Set(results.map(\.refreshToken)).count == 1)
            let session = try #require(try await server.store.session(id: first.sessionID))
            #expect(session.generation == 1)
        }
    }

    @Test("reuse after the grace window revokes the whole session, with event, audit and notification")
    func reuseAfterGrace() async throws {
        try await withTestServer { server async throws in
            let registered = try await Self.register(server.auth)
            let first = registered.tokens
            let second = try await server.auth.refresh(.with { $0.refreshToken = first.refreshToken }).tokens
            server.clock.advance(by: 11)
            _ = await expectRPCError(.unauthenticated, .refreshTokenReused) {
                _ = try await server.auth.refresh(.with { $0.refreshToken = first.refreshToken })
            }
            // The whole session is gone: the newest tokens stop working too.
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.refresh(.with { $0.refreshToken = second.refreshToken })
            }
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.listSessions(.init(), metadata: .bearer(second.accessToken))
            }
            let events = try await server.store.events(after: 0, types: [.refreshTokenReused], limit: 10)
            #expect(events.count == 1)
            #expect(events.first?.api.refreshTokenReused.sessionID == first.sessionID)
            let audits = try await server.store.listAuditLogs(
                AuditQuery(action: "session.refresh_token_reused", limit: 10))
            #expect(audits.count == 1)
            let notes = try await server.store.listNotifications(
                userID: registered.user.id, unreadOnly: false, before: nil, limit: 10
            )
            #expect(notes.notifications.contains { $0.kind == "session_revoked" && $0.data["by"] == "reuse_detection" })
        }
    }

    @Test("unknown or malformed refresh tokens are TOKEN_INVALID; expired sessions SESSION_REVOKED")
    func refreshErrors() async throws {
        try await withTestServer { server async throws in
            _ = await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.auth.refresh(.with { $0.refreshToken = "nope" })
            }
            _ = await expectRPCError(.unauthenticated, .tokenInvalid) {
                _ = try await server.auth.refresh(.init())
            }
            let tokens = try await Self.register(server.auth).tokens
            server.clock.advance(by: 8 * 24 * 3600)
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.refresh(.with { $0.refreshToken = tokens.refreshToken })
            }
        }
    }

    // MARK: Bad access tokens

    @Test("alg none, HS256 with the public key, tampered, unknown-kid and expired tokens are refused")
    func badTokens() async throws {
        try await withTestServer { server async throws in
            let tokens = try await Self.register(server.auth).tokens
            let parts = tokens.accessToken.split(separator: ".").map(String.init)
            func b64(_ data: Data) -> String {
                data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            }
            let none = b64(Data(#"{"alg":"none","typ":"at+jwt"}"#.utf8)) + "." + parts[1] + "."
            let keys = try await server.auth.getSigningKeys(.init())
            let publicKey = try #require(keys.keys.first?.publicKey)
            let hsHeader = b64(Data(#"{"alg":"HS256","typ":"at+jwt","kid":"\#(keys.keys[0].keyID)"}"#.utf8))
            let hsInput = hsHeader + "." + parts[1]
            let hsSignature = b64(
                Data(HMAC<SHA256>.authenticationCode(for: Data(hsInput.utf8), using: SymmetricKey(data: publicKey))))
            var payload = parts[1]
            payload = String(payload.dropLast()) + (payload.last == "A" ? "B" : "A")
            let tampered = [parts[0], payload, parts[2]].joined(separator: ".")
            for bad in [none, hsInput + "." + hsSignature, tampered, "a.b.c", String(repeating: "x", count: 9000)] {
                _ = await expectRPCError(.unauthenticated, .tokenInvalid) {
                    _ = try await server.auth.listSessions(.init(), metadata: .bearer(bad))
                }
            }
            server.clock.advance(by: 15 * 60 + 1)
            _ = await expectRPCError(.unauthenticated, .tokenExpired) {
                _ = try await server.auth.listSessions(.init(), metadata: .bearer(tokens.accessToken))
            }
        }
    }

    // MARK: Sessions

    @Test("Logout CURRENT, OTHERS and ALL revoke the right sessions, effective on the next RPC")
    func logoutScopes() async throws {
        try await withTestServer { server async throws in
            let a = try await Self.register(server.auth).tokens
            let b = try await Self.login(server.auth).tokens
            let c = try await Self.login(server.auth).tokens
            let others = try await server.auth.logout(.with { $0.scope = .others }, metadata: .bearer(a.accessToken))
            #expect(others.revokedSessions == 2)
            for token in [b.accessToken, c.accessToken] {
                _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                    _ = try await server.auth.listSessions(.init(), metadata: .bearer(token))
                }
            }
            let d = try await Self.login(server.auth).tokens
            let all = try await server.auth.logout(.with { $0.scope = .all }, metadata: .bearer(d.accessToken))
            #expect(all.revokedSessions == 2)
            let e = try await Self.login(server.auth).tokens
            let current = try await server.auth.logout(.init(), metadata: .bearer(e.accessToken))
            #expect(current.revokedSessions == 1)
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.logout(.init(), metadata: .bearer(e.accessToken))
            }
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.refresh(.with { $0.refreshToken = e.refreshToken })
            }
        }
    }

    @Test("ChangePassword needs the current password and revokes other sessions unless asked not to")
    func changePassword() async throws {
        try await withTestServer { server async throws in
            let registered = try await Self.register(server.auth)
            let a = registered.tokens
            let b = try await Self.login(server.auth).tokens
            _ = await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await server.auth.changePassword(
                    .with {
                        $0.currentPassword = "not it at all"
                        $0.newPassword = "a brand new password"
                    },
                    metadata: .bearer(a.accessToken)
                )
            }
            _ = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.auth.changePassword(
                    .with {
                        $0.currentPassword = "a fine long password"
                        $0.newPassword = "short"
                    },
                    metadata: .bearer(a.accessToken)
                )
            }
            let changed = try await server.auth.changePassword(
                .with {
                    $0.currentPassword = "a fine long password"
                    $0.newPassword = "a brand new password"
                },
                metadata: .bearer(a.accessToken)
            )
            #expect(changed.tokens.sessionID == a.sessionID)
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.listSessions(.init(), metadata: .bearer(b.accessToken))
            }
            _ = try await server.auth.listSessions(.init(), metadata: .bearer(changed.tokens.accessToken))
            _ = try await server.auth.refresh(.with { $0.refreshToken = changed.tokens.refreshToken })
            _ = await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await Self.login(server.auth)
            }
            let c = try await Self.login(server.auth, password: "a brand new password").tokens
            _ = try await server.auth.changePassword(
                .with {
                    $0.currentPassword = "a brand new password"
                    $0.newPassword = "yet another password"
                    $0.keepOtherSessions = true
                },
                metadata: .bearer(c.accessToken)
            )
            _ = try await server.auth.listSessions(.init(), metadata: .bearer(changed.tokens.accessToken))
            let notes = try await server.store.listNotifications(
                userID: registered.user.id, unreadOnly: false, before: nil, limit: 10
            )
            #expect(notes.notifications.filter { $0.kind == "password_changed" }.count == 2)
        }
    }

    @Test("ListSessions pages; users see their own only; admins may name others")
    func listSessions() async throws {
        try await withTestServer { server async throws in
            let registered = try await Self.register(server.auth)
            for _ in 0..<4 {
                server.clock.advance(by: 1)
                _ = try await Self.login(server.auth)
            }
            let token = registered.tokens.accessToken
            var seen: [String] = []
            var pageToken = ""
            repeat {
                let page = try await server.auth.listSessions(
                    .with {
                        $0.pageSize = 2
                        $0.pageToken = pageToken
                    },
                    metadata: .bearer(token)
                )
                seen += page.sessions.map(\.id)
                pageToken = page.nextPageToken
            } while !pageToken.isEmpty
            #expect(seen.count == 5)
            #expect(Set(seen).count == 5)
            let (other, otherToken, _) = try await server.signIn(role: .user)
            _ = await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.auth.listSessions(
                    .with { $0.userID = registered.user.id }, metadata: .bearer(otherToken)
                )
            }
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let listed = try await server.auth.listSessions(
                .with { $0.userID = registered.user.id }, metadata: .bearer(adminToken)
            )
            #expect(listed.sessions.count == 5)
            #expect(listed.sessions.allSatisfy { !$0.current })
            _ = await expectRPCError(.notFound, .notFound) {
                _ = try await server.auth.listSessions(
                    .with { $0.userID = UUID().uuidString }, metadata: .bearer(adminToken)
                )
            }
            _ = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.auth.listSessions(.with { $0.pageToken = "garbage" }, metadata: .bearer(token))
            }
            #expect(other.id != registered.user.id)
        }
    }

    @Test("RevokeSession: own sessions, not others' (NOT_FOUND); admins any, audited")
    func revokeSession() async throws {
        try await withTestServer { server async throws in
            let registered = try await Self.register(server.auth)
            let second = try await Self.login(server.auth).tokens
            let (_, strangerToken, _) = try await server.signIn(role: .user)
            _ = await expectRPCError(.notFound, .notFound) {
                _ = try await server.auth.revokeSession(
                    .with { $0.sessionID = second.sessionID }, metadata: .bearer(strangerToken)
                )
            }
            _ = try await server.auth.revokeSession(
                .with { $0.sessionID = second.sessionID }, metadata: .bearer(registered.tokens.accessToken)
            )
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.listSessions(.init(), metadata: .bearer(second.accessToken))
            }
            let (admin, adminToken, _) = try await server.signIn(role: .admin)
            _ = try await server.auth.revokeSession(
                .with { $0.sessionID = registered.tokens.sessionID }, metadata: .bearer(adminToken)
            )
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.listSessions(.init(), metadata: .bearer(registered.tokens.accessToken))
            }
            let audits = try await server.store.listAuditLogs(AuditQuery(actorUserID: admin.id, limit: 10))
            #expect(audits.map(\.action) == ["session.revoke"])
        }
    }

    // MARK: Keys, introspection, service accounts

    @Test("GetSigningKeys publishes the raw Ed25519 key and a JWKS; rotation keeps the old key")
    func signingKeys() async throws {
        try await withTestServer { server async throws in
            let before = try await server.auth.getSigningKeys(.init())
            #expect(before.keys.count == 1)
            #expect(before.keys[0].algorithm == "EdDSA")
            #expect(before.keys[0].publicKey.count == 32)
            let jwks = try JSONSerialization.jsonObject(with: Data(before.jwksJson.utf8)) as? [String: Any]
            let keys = try #require(jwks?["keys"] as? [[String: Any]])
            #expect(keys.first?["kid"] as? String == before.keys[0].keyID)
            #expect(keys.first?["crv"] as? String == "Ed25519")
            let tokens = try await Self.register(server.auth).tokens
            let newKeyID = try await server.runtime.rotateSigningKeys()
            let after = try await server.auth.getSigningKeys(.init())
            #expect(after.keys.count == 2)
            #expect(Set(after.keys.map(\.keyID)) == [before.keys[0].keyID, newKeyID])
            #expect(after.keys.first?.keyID == newKeyID)
            // Tokens signed with the retired key keep working until they expire; new ones use the new key.
            _ = try await server.auth.listSessions(.init(), metadata: .bearer(tokens.accessToken))
            let fresh = try await Self.login(server.auth).tokens
            let header = try #require(fresh.accessToken.split(separator: ".").first)
            var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            let decoded = try #require(Data(base64Encoded: base64))
            #expect(String(decoding: decoded, as: UTF8.self).contains(newKeyID))
        }
    }

    @Test("IntrospectToken follows RFC 7662: active tokens described, anything else just inactive")
    func introspect() async throws {
        try await withTestServer { server async throws in
            let (_, serviceToken) = try await server.serviceToken()
            let user = try await Self.register(server.auth)
            let access = try await server.auth.introspectToken(
                .with { $0.token = user.tokens.accessToken }, metadata: .bearer(serviceToken)
            )
            #expect(access.active)
            #expect(access.userID == user.user.id)
            #expect(access.sessionID == user.tokens.sessionID)
            #expect(access.role == .user)
            #expect(access.tokenType == .access)
            let refresh = try await server.auth.introspectToken(
                .with { $0.token = user.tokens.refreshToken }, metadata: .bearer(serviceToken)
            )
            #expect(refresh.active)
            #expect(refresh.tokenType == .refresh)
            for junk in ["", "junk", "a.b.c"] {
                let result = try await server.auth.introspectToken(
                    .with { $0.token = junk }, metadata: .bearer(serviceToken))
                #expect(result == .init())
            }
            _ = try await server.auth.logout(.init(), metadata: .bearer(user.tokens.accessToken))
            let revoked = try await server.auth.introspectToken(
                .with { $0.token = user.tokens.accessToken }, metadata: .bearer(serviceToken)
            )
            #expect(!revoked.active)
            let (_, userToken, _) = try await server.signIn(role: .user)
            _ = await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.auth.introspectToken(.with { $0.token = "x" }, metadata: .bearer(userToken))
            }
        }
    }

    @Test("service accounts: create (secret once), token, list, delete; the secret is stored hashed")
    func serviceAccounts() async throws {
        try await withTestServer { server async throws in
            let (_, rootToken, _) = try await server.signIn(role: .superAdmin)
            let created = try await server.auth.createServiceAccount(
                .with {
                    $0.name = "billing"
                    $0.description_p = "the billing service"
                },
                metadata: .bearer(rootToken)
            )
            #expect(!created.clientSecret.isEmpty)
            let stored = try #require(try await server.store.serviceAccount(id: created.serviceAccount.id))
            #expect(stored.secretHash != created.clientSecret)
            let issued = try await server.auth.issueServiceToken(
                .with {
                    $0.clientID = created.serviceAccount.clientID
                    $0.clientSecret = created.clientSecret
                }
            )
            let introspected = try await server.auth.introspectToken(
                .with { $0.token = issued.accessToken }, metadata: .bearer(issued.accessToken)
            )
            #expect(introspected.tokenType == .service)
            #expect(introspected.role == .service)
            _ = await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await server.auth.issueServiceToken(
                    .with {
                        $0.clientID = created.serviceAccount.clientID
                        $0.clientSecret = "wrong"
                    }
                )
            }
            _ = await expectRPCError(.unauthenticated, .invalidCredentials) {
                _ = try await server.auth.issueServiceToken(
                    .with {
                        $0.clientID = "svc_unknown"
                        $0.clientSecret = created.clientSecret
                    }
                )
            }
            let listed = try await server.auth.listServiceAccounts(.init(), metadata: .bearer(rootToken))
            #expect(listed.serviceAccounts.map(\.id) == [created.serviceAccount.id])
            #expect(listed.serviceAccounts.first?.name == "billing")
            // Service accounts may not manage service accounts, and admins may not either.
            _ = await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.auth.listServiceAccounts(.init(), metadata: .bearer(issued.accessToken))
            }
            _ = try await server.auth.deleteServiceAccount(
                .with { $0.id = created.serviceAccount.id }, metadata: .bearer(rootToken)
            )
            _ = await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.auth.introspectToken(
                    .with { $0.token = "x" }, metadata: .bearer(issued.accessToken))
            }
            _ = await expectRPCError(.notFound, .notFound) {
                _ = try await server.auth.deleteServiceAccount(
                    .with { $0.id = created.serviceAccount.id }, metadata: .bearer(rootToken)
                )
            }
            let audits = try await server.store.listAuditLogs(AuditQuery(resourceType: "service_account", limit: 10))
            #expect(Set(audits.map(\.action)) == ["service_account.create", "service_account.delete"])
        }
    }
}
