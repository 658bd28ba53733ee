import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

/// GetMe and UpdateMe over TCP.
@Suite("Profile: GetMe, UpdateMe")
struct ProfileTests {
    @Test("GetMe returns the caller's account without secrets")
    func getMe() async throws {
        try await withTestServer { server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            let me = try await server.users.getMe(.init(), metadata: .bearer(token)).user
            #expect(me.id == user.id)
            #expect(me.email == user.email)
            #expect(me.role == .user)
            #expect(me.isActive)
            #expect(!me.isPrimaryAdmin)
            #expect(me.etag == user.etag)
            #expect(!me.deleted)
        }
    }

    @Test("UpdateMe changes only the masked names and returns a new etag")
    func updateMe() async throws {
        try await withTestServer { server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            let updated = try await server.users.updateMe(
                .with {
                    $0.user = .with {
                        $0.etag = user.etag
                        $0.firstName = "Grace"
                        $0.lastName = "ignored: not in the mask"
                    }
                    $0.updateMask = .with { $0.paths = ["first_name"] }
                },
                metadata: .bearer(token)
            ).user
            #expect(updated.firstName == "Grace")
            #expect(updated.lastName == user.lastName)
            #expect(updated.etag != user.etag)
            #expect(try await server.currentUser(user.id).firstName == "Grace")

            // The old etag is stale now.
            await expectRPCError(.aborted, .etagMismatch) {
                _ = try await server.users.updateMe(
                    .with {
                        $0.user = .with {
                            $0.etag = user.etag; $0.lastName = "Hopper"
                        }
                        $0.updateMask = .with { $0.paths = ["last_name"] }
                    },
                    metadata: .bearer(token)
                )
            }
        }
    }

    @Test("UpdateMe validation names every bad field")
    func updateMeValidation() async throws {
        try await withTestServer { server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            // No etag, a path that is not editable here, a name with a control character.
            let error = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.updateMe(
                    .with {
                        $0.user = .with { $0.firstName = "bad\u{7}name" }
                        $0.updateMask = .with { $0.paths = ["first_name", "role"] }
                    },
                    metadata: .bearer(token)
                )
            }
            let fields = Set(error?.fieldViolations.map(\.field) ?? [])
            #expect(fields == ["user.etag", "update_mask", "user.first_name"])

            // An empty mask, and a name that is too long.
            let empty = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.updateMe(
                    .with { $0.user = .with { $0.etag = user.etag } },
                    metadata: .bearer(token)
                )
            }
            #expect(empty?.fieldViolations.map(\.field) == ["update_mask"])
            let long = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.updateMe(
                    .with {
                        $0.user = .with {
                            $0.etag = user.etag; $0.lastName = String(repeating: "x", count: 101)
                        }
                        $0.updateMask = .with { $0.paths = ["last_name"] }
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(long?.fieldViolations.map(\.field) == ["user.last_name"])

            // Someone else's id in the body is refused rather than silently ignored.
            let other = try await server.makeUser()
            let wrongID = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.updateMe(
                    .with {
                        $0.user = .with {
                            $0.id = other.id; $0.etag = other.etag; $0.firstName = "X"
                        }
                        $0.updateMask = .with { $0.paths = ["first_name"] }
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(wrongID?.fieldViolations.map(\.field) == ["user.id"])
            #expect(try await server.currentUser(user.id).etag == user.etag)
            #expect(try await server.currentUser(other.id).firstName == other.firstName)
        }
    }

    @Test("concurrent UpdateMe with one etag: exactly one wins, the others are ABORTED / ETAG_MISMATCH")
    func concurrentUpdateMe() async throws {
        try await withTestServer { server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            let attempts = 8
            let outcomes = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<attempts {
                    group.addTask {
                        do {
                            let updated = try await server.users.updateMe(
                                .with {
                                    $0.user = .with {
                                        $0.etag = user.etag; $0.firstName = "Writer \(index)"
                                    }
                                    $0.updateMask = .with { $0.paths = ["first_name"] }
                                },
                                metadata: .bearer(token)
                            )
                            return updated.user.firstName
                        } catch let error as RPCError {
                            #expect(error.code == .aborted)
                            #expect(ClassyError(error)?.code == .etagMismatch)
                            return nil
                        }
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            let winners = outcomes.compactMap { $0 }
            #expect(winners.count == 1)
            #expect(try await server.currentUser(user.id).firstName == winners.first)
        }
    }

    @Test("UpdateMe notifies PROFILE_UPDATED with the session it came from")
    func updateMeNotifies() async throws {
        try await withTestServer { server async throws in
            let (user, token, sessionID) = try await server.signIn(role: .user)
            _ = try await server.users.updateMe(
                .with {
                    $0.user = .with {
                        $0.etag = user.etag; $0.firstName = "Grace"; $0.lastName = "Hopper"
                    }
                    $0.updateMask = .with { $0.paths = ["first_name", "last_name"] }
                },
                metadata: .bearer(token)
            )
            let list = try await server.users.listNotifications(.init(), metadata: .bearer(token))
            let notification = try #require(list.notifications.first)
            #expect(list.notifications.count == 1)
            #expect(notification.kind == .profileUpdated)
            #expect(notification.data["session_id"] == sessionID)
            #expect(notification.data["fields"] == "first_name,last_name")
        }
    }
}
