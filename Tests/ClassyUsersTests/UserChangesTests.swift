import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

/// ListUserChanges over TCP: snapshots, tombstones, cursors, visibility.
@Suite("ListUserChanges")
struct UserChangesTests {
    /// Follows the feed from `cursor` until has_more is false; returns the changes and the final cursor.
    static func drain(
        _ server: TestServer,
        token: String,
        from cursor: String,
        pageSize: Int32 = 2,
        cursorIsLastChange: Bool = true
    ) async throws -> (changes: [Classy_Users_V1_UserChange], cursor: String) {
        var changes: [Classy_Users_V1_UserChange] = []
        var cursor = cursor
        for _ in 0..<1000 {
            let page = try await server.users.listUserChanges(
                .with {
                    $0.sinceCursor = cursor; $0.pageSize = pageSize
                }, metadata: .bearer(token)
            )
            #expect(page.changes.count <= Int(pageSize))
            changes += page.changes
            if cursorIsLastChange, let last = page.changes.last { #expect(page.nextCursor == last.cursor) }
            cursor = page.nextCursor
            if !page.hasMore_p { return (changes, cursor) }
        }
        Issue.record("the feed did not end")
        return (changes, cursor)
    }

    @Test("admins and services page through latest snapshots and tombstones in change order")
    func feed() async throws {
        try await withTestServer { server async throws in
            let (admin, adminToken, _) = try await server.signIn(role: .admin)
            let (_, serviceToken) = try await server.serviceToken()
            let start = try await Self.drain(server, token: adminToken, from: "")
            // The primary admin and the caller exist from the beginning.
            #expect(Set(start.changes.map(\.user.id)).isSuperset(of: [admin.id]))
            #expect(start.changes.count == 2)

            let kept = try await server.makeUser(firstName: "Kept")
            let removed = try await server.makeUser(firstName: "Removed")
            let born = try await server.makeUser(firstName: "Born and gone")
            _ = try await server.users.updateUser(
                .change(kept, ["first_name"]) { $0.firstName = "Kept v2" }, metadata: .bearer(adminToken)
            )
            _ = try await server.users.deleteUser(
                .with {
                    $0.userID = removed.id; $0.etag = removed.etag
                }, metadata: .bearer(adminToken)
            )
            _ = try await server.store.deleteUser(id: born.id, ifETag: nil, effects: .none, now: server.clock.now())

            for token in [adminToken, serviceToken] {
                let (changes, end) = try await Self.drain(server, token: token, from: start.cursor)
                // Latest state only, in change order; a create-then-delete is one tombstone.
                #expect(changes.map(\.user.id) == [kept.id, removed.id, born.id])
                #expect(changes[0].deleted == false)
                #expect(changes[0].user.firstName == "Kept v2")
                #expect(changes[0].user.email == kept.email)
                for tombstone in changes[1...] {
                    #expect(tombstone.deleted)
                    #expect(tombstone.user.deleted)
                    #expect(tombstone.user.email.isEmpty, "a tombstone carries no profile data")
                }
                // Nothing new: the same cursor again, no changes.
                let again = try await server.users.listUserChanges(
                    .with { $0.sinceCursor = end }, metadata: .bearer(token))
                #expect(again.changes.isEmpty)
                #expect(!again.hasMore_p)
                #expect(again.nextCursor == end)
            }
        }
    }

    @Test("a user sees only their own record, once per change")
    func ownRecordOnly() async throws {
        try await withTestServer { server async throws in
            let (user, token, _) = try await server.signIn(role: .user)
            try await server.makeUser()
            // A user's next cursor moves past everyone's changes, not just to their own record's.
            let first = try await Self.drain(server, token: token, from: "", cursorIsLastChange: false)
            #expect(first.changes.map(\.user.id) == [user.id])
            let quiet = try await server.users.listUserChanges(
                .with { $0.sinceCursor = first.cursor }, metadata: .bearer(token))
            #expect(quiet.changes.isEmpty)
            // Other users' changes move nothing into this user's feed.
            try await server.makeUser()
            let stillQuiet = try await server.users.listUserChanges(
                .with { $0.sinceCursor = quiet.nextCursor }, metadata: .bearer(token))
            #expect(stillQuiet.changes.isEmpty)
            _ = try await server.users.updateMe(
                .with {
                    $0.user = .with {
                        $0.etag = user.etag; $0.firstName = "Changed"
                    }
                    $0.updateMask = .with { $0.paths = ["first_name"] }
                },
                metadata: .bearer(token)
            )
            let changed = try await server.users.listUserChanges(
                .with { $0.sinceCursor = stillQuiet.nextCursor }, metadata: .bearer(token)
            )
            #expect(changed.changes.map(\.user.firstName) == ["Changed"])
            #expect(!changed.hasMore_p)
        }
    }

    @Test("cursors survive a restart; forged cursors are INVALID_FIELD")
    func cursorsAcrossRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "classy-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("classy.sqlite").path
        let clock = ManualClock()
        let (cursor, known) = try await withTestServer(databasePath: path, clock: clock) { server async throws in
            let (_, token) = try await server.serviceToken()
            let (_, end) = try await Self.drain(server, token: token, from: "")
            let user = try await server.makeUser()
            return (end, user.id)
        }
        try await withTestServer(databasePath: path, clock: clock) { server async throws in
            let (_, token) = try await server.serviceToken()
            let (changes, _) = try await Self.drain(server, token: token, from: cursor)
            // Exactly the user created after the cursor was taken, before the restart.
            #expect(changes.map(\.user.id) == [known])
            let forged = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.listUserChanges(
                    .with { $0.sinceCursor = "eyJzZXF1ZW5jZSI6LTF9" }, metadata: .bearer(token))
            }
            #expect(forged?.fieldViolations.map(\.field) == ["since_cursor"])
            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.listUserChanges(
                    .with { $0.sinceCursor = "garbage!" }, metadata: .bearer(token))
            }
        }
    }
}
