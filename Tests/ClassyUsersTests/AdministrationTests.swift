import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

/// CreateUser, UpdateUser, DeleteUser over TCP: role rules, primary admin, sessions, audit.
@Suite("User administration")
struct AdministrationTests {
    @Test("CreateUser stores a user with a hashed password and writes an audit entry with the client IP")
    func createUser() async throws {
        try await withTestServer { server async throws in
            let (admin, token, _) = try await server.signIn(role: .admin)
            let created = try await server.users.createUser(
                .with {
                    $0.email = "  New.User@Example.COM "
                    $0.password = "a sound passphrase"
                    $0.firstName = "New"
                    $0.lastName = "User"
                },
                metadata: .bearer(token)
            ).user
            #expect(created.email == "new.user@example.com")
            #expect(created.role == .user)
            #expect(created.isActive)
            let stored = try await server.currentUser(created.id)
            #expect(stored.passwordHash.hasPrefix("$argon2id$"))
            #expect(try await server.runtime.passwordHasher.verify("a sound passphrase", against: stored.passwordHash))

            let audit = try await server.store.listAuditLogs(AuditQuery(action: "user.create"))
            let entry = try #require(audit.first)
            #expect(audit.count == 1)
            #expect(entry.actorUserID == admin.id)
            #expect(entry.resourceType == "user")
            #expect(entry.resourceID == created.id)
            #expect(entry.ipAddress == "127.0.0.1")
            #expect(entry.details["email"] == "new.user@example.com")
            #expect(entry.details["role"] == "user")

            await expectRPCError(.alreadyExists, .emailTaken) {
                _ = try await server.users.createUser(
                    .with {
                        $0.email = "new.user@example.com"; $0.password = "another passphrase"
                    },
                    metadata: .bearer(token)
                )
            }
        }
    }

    @Test("CreateUser validation names every bad field; ROLE_SERVICE is INVALID_FIELD")
    func createUserValidation() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .superAdmin)
            let error = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.createUser(
                    .with {
                        $0.email = "not an email"
                        $0.password = "short"
                        $0.firstName = String(repeating: "n", count: 101)
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(Set(error?.fieldViolations.map(\.field) ?? []) == ["email", "password", "first_name"])
            let common = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.createUser(
                    .with {
                        $0.email = "c@example.com"; $0.password = "password123"
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(common?.fieldViolations.map(\.field) == ["password"])
            let service = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.createUser(
                    .with {
                        $0.email = "svc@example.com"; $0.password = "a sound passphrase"; $0.role = .service
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(service?.fieldViolations.map(\.field) == ["role"])
            #expect(try await server.store.user(email: "svc@example.com") == nil)
        }
    }

    @Test("an admin creates, updates, deactivates and deletes only users of role USER and grants nothing above")
    func adminLimits() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            for role in [Classy_Users_V1_Role.admin, .superAdmin] {
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.createUser(
                        .with {
                            $0.email = "x-\(role.rawValue)@example.com"; $0.password = "a sound passphrase";
                            $0.role = role
                        },
                        metadata: .bearer(token)
                    )
                }
            }
            let otherAdmin = try await server.makeUser(role: .admin)
            let superAdmin = try await server.makeUser(role: .superAdmin)
            for target in [otherAdmin, superAdmin] {
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.updateUser(
                        .change(target, ["first_name"]) { $0.firstName = "X" }, metadata: .bearer(token))
                }
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.updateUser(.change(target, ["is_active"]), metadata: .bearer(token))
                }
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.deleteUser(
                        .with {
                            $0.userID = target.id; $0.etag = target.etag
                        }, metadata: .bearer(token)
                    )
                }
            }
            let user = try await server.makeUser()
            for role in [Classy_Users_V1_Role.admin, .superAdmin] {
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.updateUser(
                        .change(user, ["role"]) { $0.role = role }, metadata: .bearer(token))
                }
            }
            let unchanged = try await server.currentUser(user.id)
            #expect(unchanged.role == .user)
            #expect(unchanged.etag == user.etag)

            // What an admin may do to a USER.
            let renamed = try await server.users.updateUser(
                .change(user, ["first_name", "last_name"]) {
                    $0.firstName = "Renamed"; $0.lastName = "Person"
                },
                metadata: .bearer(token)
            ).user
            #expect(renamed.firstName == "Renamed" && renamed.lastName == "Person")
            let deactivated = try await server.users.updateUser(
                .change(try await server.currentUser(user.id), ["is_active"]) { $0.isActive = false },
                metadata: .bearer(token)
            ).user
            #expect(!deactivated.isActive)
            _ = try await server.users.deleteUser(
                .with {
                    $0.userID = user.id; $0.etag = deactivated.etag
                }, metadata: .bearer(token)
            )
            #expect(try await server.currentUser(user.id).deleted)
        }
    }

    @Test("a super admin manages admins and super admins, but cannot give ROLE_SERVICE")
    func superAdminRights() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .superAdmin)
            let admin = try await server.users.createUser(
                .with {
                    $0.email = "new-admin@example.com"; $0.password = "a sound passphrase"; $0.role = .admin
                },
                metadata: .bearer(token)
            ).user
            #expect(admin.role == .admin)
            let stored = try await server.currentUser(admin.id)
            let promoted = try await server.users.updateUser(
                .change(stored, ["role"]) { $0.role = .superAdmin }, metadata: .bearer(token)
            ).user
            #expect(promoted.role == .superAdmin)
            let service = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.updateUser(
                    .change(try await server.currentUser(admin.id), ["role"]) { $0.role = .service },
                    metadata: .bearer(token)
                )
            }
            #expect(service?.fieldViolations.map(\.field) == ["user.role"])
            _ = try await server.users.deleteUser(
                .with {
                    $0.userID = admin.id; $0.etag = promoted.etag
                }, metadata: .bearer(token)
            )
            #expect(try await server.currentUser(admin.id).deleted)
        }
    }

    @Test("nobody can deactivate, delete or demote the primary admin, not even itself")
    func primaryAdminProtected() async throws {
        try await withTestServer { server async throws in
            let (_, superToken, _) = try await server.signIn(role: .superAdmin)
            let (primary, primaryToken) = try await server.signInPrimaryAdmin()
            #expect(primary.isPrimaryAdmin)
            for token in [superToken, primaryToken] {
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.updateUser(
                        .change(primary, ["is_active"]) { $0.isActive = false }, metadata: .bearer(token))
                }
                for role in [Classy_Users_V1_Role.admin, .user] {
                    await expectRPCError(.permissionDenied, .forbidden) {
                        _ = try await server.users.updateUser(
                            .change(primary, ["role"]) { $0.role = role }, metadata: .bearer(token))
                    }
                }
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.deleteUser(
                        .with {
                            $0.userID = primary.id; $0.etag = primary.etag
                        }, metadata: .bearer(token)
                    )
                }
            }
            let after = try await server.currentUser(primary.id)
            #expect(after.isActive && after.role == .superAdmin && !after.deleted && after.etag == primary.etag)
            // Its names may still change.
            let renamed = try await server.users.updateUser(
                .change(primary, ["first_name"]) { $0.firstName = "Root" }, metadata: .bearer(superToken)
            ).user
            #expect(renamed.firstName == "Root")
            #expect(renamed.isPrimaryAdmin)
        }
    }

    @Test("UpdateUser and DeleteUser need the current etag and a live user")
    func etagsAndNotFound() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            let user = try await server.makeUser()
            _ = try await server.users.updateUser(
                .change(user, ["first_name"]) { $0.firstName = "One" }, metadata: .bearer(token))
            await expectRPCError(.aborted, .etagMismatch) {
                _ = try await server.users.updateUser(
                    .change(user, ["first_name"]) { $0.firstName = "Two" }, metadata: .bearer(token))
            }
            await expectRPCError(.aborted, .etagMismatch) {
                _ = try await server.users.deleteUser(
                    .with {
                        $0.userID = user.id; $0.etag = user.etag
                    }, metadata: .bearer(token))
            }
            let missingEtag = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.deleteUser(.with { $0.userID = user.id }, metadata: .bearer(token))
            }
            #expect(missingEtag?.fieldViolations.map(\.field) == ["etag"])
            let badMask = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.updateUser(.change(user, ["email"]), metadata: .bearer(token))
            }
            #expect(badMask?.fieldViolations.map(\.field) == ["update_mask"])
            let current = try await server.currentUser(user.id)
            _ = try await server.users.deleteUser(
                .with {
                    $0.userID = user.id; $0.etag = current.etag
                }, metadata: .bearer(token))
            let deleted = try await server.currentUser(user.id)
            await expectRPCError(.notFound, .notFound) {
                _ = try await server.users.deleteUser(
                    .with {
                        $0.userID = user.id; $0.etag = deleted.etag
                    }, metadata: .bearer(token))
            }
            await expectRPCError(.notFound, .notFound) {
                _ = try await server.users.updateUser(.change(deleted, ["first_name"]), metadata: .bearer(token))
            }
        }
    }

    @Test("deactivation and deletion revoke every session at once; reactivation does not revive them")
    func deactivationRevokesSessions() async throws {
        try await withTestServer { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let (user, firstToken, firstSession) = try await server.signIn(role: .user)
            let (secondToken, secondSession) = try await server.openSession(for: user)
            for token in [firstToken, secondToken] {
                _ = try await server.users.getMe(.init(), metadata: .bearer(token))
            }
            let deactivated = try await server.users.updateUser(
                .change(user, ["is_active"]) { $0.isActive = false }, metadata: .bearer(adminToken)
            ).user
            for token in [firstToken, secondToken] {
                await expectRPCError(.unauthenticated, .sessionRevoked) {
                    _ = try await server.users.getMe(.init(), metadata: .bearer(token))
                }
            }
            for id in [firstSession, secondSession] {
                let session = try #require(try await server.store.session(id: id))
                #expect(session.revokedTime != nil)
                #expect(session.revokeReason == "account_deactivated")
            }
            let reactivated = try await server.users.updateUser(
                .change(try await server.currentUser(user.id), ["is_active"]) { $0.isActive = true },
                metadata: .bearer(adminToken)
            ).user
            #expect(reactivated.isActive && !deactivated.isActive)
            await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.users.getMe(.init(), metadata: .bearer(firstToken))
            }

            // Deletion: a fresh session of the reactivated user ends with it.
            let (thirdToken, thirdSession) = try await server.openSession(for: try await server.currentUser(user.id))
            _ = try await server.users.getMe(.init(), metadata: .bearer(thirdToken))
            _ = try await server.users.deleteUser(
                .with {
                    $0.userID = user.id; $0.etag = reactivated.etag
                }, metadata: .bearer(adminToken)
            )
            await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await server.users.getMe(.init(), metadata: .bearer(thirdToken))
            }
            #expect(try await server.store.session(id: thirdSession)?.revokedTime != nil)
        }
    }

    @Test("a role change applies on the next RPC of every session of the user")
    func roleChangeAppliesNextRPC() async throws {
        try await withTestServer { server async throws in
            let (_, superToken, _) = try await server.signIn(role: .superAdmin)
            let (user, token, _) = try await server.signIn(role: .user)
            let (otherToken, _) = try await server.openSession(for: user)
            await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
            }
            let promoted = try await server.users.updateUser(
                .change(user, ["role"]) { $0.role = .admin }, metadata: .bearer(superToken)
            ).user
            for token in [token, otherToken] {
                _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
                #expect(try await server.users.getMe(.init(), metadata: .bearer(token)).user.role == .admin)
            }
            _ = try await server.users.updateUser(
                .with {
                    $0.user = .with {
                        $0.id = user.id; $0.etag = promoted.etag; $0.role = .user
                    }
                    $0.updateMask = .with { $0.paths = ["role"] }
                },
                metadata: .bearer(superToken)
            )
            for token in [token, otherToken] {
                await expectRPCError(.permissionDenied, .forbidden) {
                    _ = try await server.users.listUsers(.init(), metadata: .bearer(token))
                }
            }
            let kinds = try await server.users.listNotifications(.init(), metadata: .bearer(token)).notifications
            #expect(kinds.map(\.kind) == [.roleChanged, .roleChanged])
            #expect(kinds.first?.data["role"] == "user")
            #expect(kinds.first?.data["previous_role"] == "admin")
        }
    }

    @Test("every admin mutation is audited in the same transaction, with actor, resource, details and IP")
    func auditTrail() async throws {
        try await withTestServer { server async throws in
            let (admin, token, _) = try await server.signIn(role: .admin)
            let user = try await server.makeUser()
            let updated = try await server.users.updateUser(
                .change(user, ["last_name", "is_active"]) {
                    $0.lastName = "Changed"; $0.isActive = false
                },
                metadata: .bearer(token)
            ).user
            // A refused mutation leaves no trace.
            await expectRPCError(.aborted, .etagMismatch) {
                _ = try await server.users.updateUser(.change(user, ["first_name"]), metadata: .bearer(token))
            }
            await expectRPCError(.permissionDenied, .forbidden) {
                _ = try await server.users.createUser(
                    .with {
                        $0.email = "boss@example.com"; $0.password = "a sound passphrase"; $0.role = .admin
                    },
                    metadata: .bearer(token)
                )
            }
            _ = try await server.users.deleteUser(
                .with {
                    $0.userID = user.id; $0.etag = updated.etag
                }, metadata: .bearer(token))
            let entries = try await server.store.listAuditLogs(AuditQuery(resourceType: "user"))
            #expect(Set(entries.map(\.action)) == ["user.update", "user.delete"])
            #expect(entries.count == 2)
            for entry in entries {
                #expect(entry.actorUserID == admin.id)
                #expect(entry.resourceID == user.id)
                #expect(entry.ipAddress == "127.0.0.1")
            }
            let update = try #require(entries.first { $0.action == "user.update" })
            #expect(update.details["fields"] == "last_name,is_active")
            #expect(update.details["is_active"] == "false")
            // Each audit entry is also a security event (outbox).
            let events = try await server.store.events(after: 0, types: [.auditLog], limit: 100)
            #expect(events.count == 2)
        }
    }
}
