import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import ClassyUsers
import Foundation
import GRPCCore
import Testing

/// ListNotifications, MarkNotificationsRead and WatchNotifications.
@Suite("Notifications")
struct NotificationTests {
    /// Creates a notification for `userID` the way other services do: as a committed store effect.
    @discardableResult
    static func notify(_ server: TestServer, _ userID: String, _ title: String) async throws -> NotificationRecord {
        server.clock.advance(by: 1)
        let committed = try await server.store.commit(
            StoreEffects(notifications: [
                NewNotification(
                    userID: userID,
                    kind: Classy_Users_V1_NotificationKind.newSignIn.storeValue,
                    title: title,
                    body: "A sign-in from a new device.",
                    data: ["ip_address": "192.0.2.1"],
                    createTime: server.clock.now()
                )
            ])
        )
        return try #require(committed.notifications.first)
    }

    @Test("ListNotifications pages newest first with unread_count; MarkNotificationsRead by ids or all")
    func listAndMark() async throws {
        try await withTestServer { server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            let other = try await server.makeUser()
            var mine: [NotificationRecord] = []
            for index in 1...5 { mine.append(try await Self.notify(server, user.id, "n\(index)")) }
            let theirs = try await Self.notify(server, other.id, "not yours")

            var titles: [String] = []
            var request = Classy_Users_V1_ListNotificationsRequest.with { $0.pageSize = 2 }
            while true {
                let page = try await server.users.listNotifications(request, metadata: .bearer(token))
                #expect(page.unreadCount == 5)
                titles += page.notifications.map(\.title)
                if page.nextPageToken.isEmpty { break }
                request.pageToken = page.nextPageToken
            }
            #expect(titles == ["n5", "n4", "n3", "n2", "n1"])
            let first = try await server.users.listNotifications(.init(), metadata: .bearer(token)).notifications
            #expect(first.first?.kind == .newSignIn)
            #expect(first.first?.data["ip_address"] == "192.0.2.1")
            #expect(first.first?.id == mine[4].id)
            #expect(first.first?.read == false)

            // Someone else's id changes nothing.
            let marked = try await server.users.markNotificationsRead(
                .with { $0.notificationIds = [mine[4].id, mine[1].id, theirs.id] }, metadata: .bearer(token)
            )
            #expect(marked.updatedCount == 2)
            let again = try await server.users.markNotificationsRead(
                .with { $0.notificationIds = [mine[4].id] }, metadata: .bearer(token)
            )
            #expect(again.updatedCount == 0)
            let unread = try await server.users.listNotifications(
                .with { $0.unreadOnly = true }, metadata: .bearer(token))
            #expect(unread.notifications.map(\.title) == ["n4", "n3", "n1"])
            #expect(unread.unreadCount == 3)
            // A token of the unread-only listing is not valid for the full listing.
            let unreadPage = try await server.users.listNotifications(
                .with {
                    $0.unreadOnly = true; $0.pageSize = 1
                }, metadata: .bearer(token)
            )
            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.listNotifications(
                    .with { $0.pageToken = unreadPage.nextPageToken }, metadata: .bearer(token)
                )
            }

            let all = try await server.users.markNotificationsRead(.with { $0.all = true }, metadata: .bearer(token))
            #expect(all.updatedCount == 3)
            #expect(try await server.users.listNotifications(.init(), metadata: .bearer(token)).unreadCount == 0)
            #expect(try await server.store.unreadNotificationCount(userID: other.id) == 1)
        }
    }

    @Test("MarkNotificationsRead validation")
    func markValidation() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .user)
            let cases: [(Classy_Users_V1_MarkNotificationsReadRequest, String)] = [
                (.init(), "notification_ids"),
                (.with { $0.notificationIds = ["x"] }, "notification_ids[0]"),
                (
                    .with {
                        $0.all = true; $0.notificationIds = [UUID().uuidString]
                    }, "notification_ids"
                ),
            ]
            for (request, field) in cases {
                let error = await expectRPCError(.invalidArgument, .invalidField) {
                    _ = try await server.users.markNotificationsRead(request, metadata: .bearer(token))
                }
                #expect(error?.fieldViolations.map(\.field) == [field])
            }
        }
    }

    @Test("WatchNotifications replays after the cursor, then goes live, with no gap or duplicate")
    func watchReplayThenLive() async throws {
        try await withTestServer { server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            let start = try await Self.notify(server, user.id, "before")
            var expected: [String] = []
            for index in 0..<3 { expected.append(try await Self.notify(server, user.id, "replay \(index)").id) }
            // Notifications keep arriving while the stream replays and switches to live.
            let writer = Task {
                var ids: [String] = []
                for index in 0..<40 { ids.append(try await Self.notify(server, user.id, "live \(index)").id) }
                return ids
            }
            let other = try await server.makeUser()
            try await Self.notify(server, other.id, "someone else's")
            let received = try await withTimeout {
                try await server.users.watchNotifications(
                    .with { $0.afterCursor = start.api.cursor }, metadata: .bearer(token)
                ) { response in
                    var ids: [String] = []
                    for try await message in response.messages where !message.id.isEmpty {
                        ids.append(message.id)
                        if ids.count == 43 { break }
                    }
                    return ids
                }
            }
            expected += try await writer.value
            #expect(received == expected)
        }
    }

    @Test("a watch resumes by cursor across a server restart")
    func watchAcrossRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "classy-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("classy.sqlite").path
        let clock = ManualClock()
        let (userID, token, lastSeen, missed) = try await withTestServer(databasePath: path, clock: clock) {
            server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            try await Self.notify(server, user.id, "first")
            let first = try await server.users.listNotifications(.init(), metadata: .bearer(token)).notifications[0]
            // Seen by the client before the restart; the next two arrive while it is away.
            let seen = try await withTimeout {
                try await server.users.watchNotifications(
                    .with { $0.afterCursor = first.cursor }, metadata: .bearer(token)
                ) { response in
                    try await Self.notify(server, user.id, "second")
                    for try await message in response.messages where !message.id.isEmpty { return message }
                    throw TimedOut(seconds: 0)
                }
            }
            #expect(seen.title == "second")
            let third = try await Self.notify(server, user.id, "third")
            let fourth = try await Self.notify(server, user.id, "fourth")
            return (user.id, token, seen.cursor, [third.id, fourth.id])
        }
        try await withTestServer(databasePath: path, clock: clock) { server async throws in
            let received = try await withTimeout {
                try await server.users.watchNotifications(
                    .with { $0.afterCursor = lastSeen }, metadata: .bearer(token)
                ) { response in
                    var ids: [String] = []
                    for try await message in response.messages where !message.id.isEmpty {
                        ids.append(message.id)
                        // Replay is done: the next one can only come live.
                        if ids.count == 2 { ids.append(try await Self.notify(server, userID, "fifth").id) }
                        if ids.count == 4 { break }
                    }
                    return ids
                }
            }
            #expect(received.count == 4)
            #expect(Array(received.prefix(2)) == missed)
            #expect(received[2] == received[3], "the notification created live arrives next")
        }
    }

    @Test("deactivation delivers SESSION_REVOKED, then ends the user's open stream with SESSION_REVOKED")
    func watchEndsWhenSessionRevoked() async throws {
        try await withTestServer { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let (user, token, _) = try await server.signIn(role: .user)
            let start = try await Self.notify(server, user.id, "start")
            let kinds = try await withTimeout {
                try await server.users.watchNotifications(
                    .with { $0.afterCursor = start.api.cursor }, metadata: .bearer(token)
                ) { response in
                    _ = try await server.users.updateUser(
                        .change(user, ["is_active"]) { $0.isActive = false }, metadata: .bearer(adminToken)
                    )
                    var kinds: [Classy_Users_V1_NotificationKind] = []
                    do {
                        for try await message in response.messages where !message.id.isEmpty {
                            kinds.append(message.kind)
                        }
                        Issue.record("the stream ended without an error")
                    } catch let error as RPCError {
                        #expect(error.code == .unauthenticated)
                        #expect(ClassyError(error)?.code == .sessionRevoked)
                    }
                    return kinds
                }
            }
            #expect(kinds == [.sessionRevoked])
        }
    }

    @Test("UpdateUser notifies ROLE_CHANGED and PROFILE_UPDATED (without a session id) to the user")
    func administrativeNotifications() async throws {
        try await withTestServer { server async throws in
            let (admin, superToken, _) = try await server.signIn(role: .superAdmin)
            let (user, token, _) = try await server.signIn(role: .user)
            _ = try await server.users.updateUser(
                .change(user, ["role", "last_name"]) {
                    $0.role = .admin; $0.lastName = "Promoted"
                },
                metadata: .bearer(superToken)
            )
            let notifications = try await server.users.listNotifications(.init(), metadata: .bearer(token))
                .notifications
            #expect(Set(notifications.map(\.kind)) == [.roleChanged, .profileUpdated])
            let role = try #require(notifications.first { $0.kind == .roleChanged })
            #expect(role.data == ["previous_role": "user", "role": "admin"])
            let profile = try #require(notifications.first { $0.kind == .profileUpdated })
            #expect(profile.data["session_id"] == nil)
            #expect(profile.data["actor_user_id"] == admin.id)
            #expect(profile.data["fields"] == "last_name")
        }
    }
}
