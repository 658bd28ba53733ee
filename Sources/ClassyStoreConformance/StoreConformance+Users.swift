import ClassyCore
import ClassyStore
import Foundation
import Testing

extension StoreConformance {
    /// Create, look up, etag-guarded update, last login, soft delete and email reuse.
    public static func users(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            #expect(try await store.countUsers(includeDeleted: true) == 0)
            let alice = try await store.createUser(
                NewUser(
                    email: "  Alice@Example.COM ",
                    passwordHash: "argon2-alice",
                    firstName: "Alice",
                    lastName: "Liddell",
                    createTime: t0
                ),
                effects: .none
            )
            #expect(alice.email == "alice@example.com")
            #expect(alice.role == .user)
            #expect(alice.isActive && !alice.isPrimaryAdmin && !alice.deleted)
            #expect(alice.createTime == t0 && alice.updateTime == t0)
            #expect(alice.lastLoginTime == nil && alice.deleteTime == nil)
            #expect(!alice.etag.isEmpty)
            #expect(alice.changeSequence > 0)
            #expect(try await store.user(id: alice.id) == alice)
            #expect(try await store.user(email: "ALICE@example.com ") == alice)
            #expect(try await store.user(id: "missing") == nil)
            #expect(try await store.user(email: "nobody@example.com") == nil)

            await expectStoreError(.emailTaken) { try await makeUser(store, email: "alice@EXAMPLE.com") }
            await expectStoreError(.conflict) {
                try await store.createUser(
                    NewUser(
                        id: alice.id, email: "other@example.com", passwordHash: "h", firstName: "O",
                        lastName: "O", createTime: t0),
                    effects: .none
                )
            }

            #expect(try await store.primaryAdmin() == nil)
            let admin = try await store.createUser(
                NewUser(
                    email: "root@example.com", passwordHash: "h", firstName: "Root", lastName: "Admin",
                    role: .superAdmin, isPrimaryAdmin: true, createTime: at(1)),
                effects: .none
            )
            #expect(admin.isPrimaryAdmin && admin.role == .superAdmin)
            #expect(try await store.primaryAdmin() == admin)
            await expectStoreError(.conflict) {
                try await store.createUser(
                    NewUser(
                        email: "root2@example.com", passwordHash: "h", firstName: "R", lastName: "A",
                        role: .superAdmin, isPrimaryAdmin: true, createTime: at(2)),
                    effects: .none
                )
            }
            #expect(try await store.countUsers(includeDeleted: false) == 2)

            // Etag-guarded update.
            let renamed = try await store.updateUser(
                id: alice.id, ifETag: alice.etag, changes: UserChanges(firstName: "Al", role: .admin), now: at(10)
            ).user
            #expect(renamed.firstName == "Al" && renamed.lastName == "Liddell" && renamed.role == .admin)
            #expect(renamed.etag != alice.etag)
            #expect(renamed.updateTime == at(10) && renamed.createTime == t0)
            #expect(renamed.changeSequence > admin.changeSequence)
            #expect(try await store.user(id: alice.id) == renamed)
            await expectStoreError(.etagMismatch) {
                try await store.updateUser(
                    id: alice.id, ifETag: alice.etag, changes: UserChanges(lastName: "X"),
                    now: at(11))
            }
            let unguarded = try await store.updateUser(
                id: alice.id, ifETag: nil, changes: UserChanges(passwordHash: "argon2-new", isActive: false),
                now: at(12)
            ).user
            #expect(unguarded.passwordHash == "argon2-new" && !unguarded.isActive && unguarded.firstName == "Al")
            await expectStoreError(.emailTaken) {
                try await store.updateUser(
                    id: alice.id, ifETag: nil, changes: UserChanges(email: "ROOT@example.com"),
                    now: at(13))
            }
            let moved = try await store.updateUser(
                id: alice.id, ifETag: unguarded.etag, changes: UserChanges(email: " Alice2@Example.com"), now: at(14)
            ).user
            #expect(moved.email == "alice2@example.com")
            #expect(try await store.user(email: "alice@example.com") == nil)
            #expect(try await store.user(email: "alice2@example.com") == moved)
            await expectStoreError(.notFound) {
                try await store.updateUser(
                    id: "missing", ifETag: nil, changes: UserChanges(firstName: "X"), now: at(15))
            }

            // Last login changes the feed position but not the etag.
            try await store.recordLastLogin(userID: alice.id, time: at(20))
            let loggedIn = try #require(try await store.user(id: alice.id))
            #expect(loggedIn.lastLoginTime == at(20))
            #expect(loggedIn.etag == moved.etag)
            #expect(loggedIn.changeSequence > moved.changeSequence)
            await expectStoreError(.notFound) { try await store.recordLastLogin(userID: "missing", time: at(20)) }

            // Soft delete.
            await expectStoreError(.etagMismatch) {
                try await store.deleteUser(id: alice.id, ifETag: alice.etag, effects: .none, now: at(30))
            }
            let deleted = try await store.deleteUser(id: alice.id, ifETag: loggedIn.etag, effects: .none, now: at(30))
            #expect(deleted.user.deleted && deleted.user.deleteTime == at(30))
            #expect(deleted.user.changeSequence > loggedIn.changeSequence)
            #expect(try await store.user(id: alice.id) == deleted.user)
            #expect(try await store.user(email: "alice2@example.com") == nil)
            await expectStoreError(.notFound) {
                try await store.updateUser(id: alice.id, ifETag: nil, changes: UserChanges(firstName: "Z"), now: at(31))
            }
            await expectStoreError(.notFound) {
                try await store.deleteUser(id: alice.id, ifETag: nil, effects: .none, now: at(31))
            }
            #expect(try await store.countUsers(includeDeleted: false) == 1)
            #expect(try await store.countUsers(includeDeleted: true) == 2)

            // The email of a deleted user can be registered again.
            let again = try await makeUser(store, email: "alice2@example.com", createTime: at(40))
            #expect(again.id != alice.id)
            #expect(try await store.user(email: "alice2@example.com") == again)
        }
    }

    /// Concurrent creates with the same email: exactly one wins, the others get `emailTaken`.
    public static func usersConcurrentCreate(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let results = await concurrently(60) { index in
                try await makeUser(store, email: index.isMultiple(of: 2) ? "race@example.com" : "RACE@example.com")
            }
            let winners = results.compactMap { try? $0.get() }
            #expect(winners.count == 1)
            #expect(results.filter { storeErrorCode($0) == .emailTaken }.count == 59)
            #expect(try await store.countUsers(includeDeleted: true) == 1)
            #expect(try await store.user(email: "race@example.com") == winners.first)

            // Distinct emails in parallel all succeed, with distinct change sequences.
            let many = await concurrently(50) { index in try await makeUser(store, email: "user\(index)@example.com") }
            let created = many.compactMap { try? $0.get() }
            #expect(created.count == 50)
            #expect(Set(created.map(\.changeSequence)).count == 50)
        }
    }

    /// Concurrent updates presenting the same etag: exactly one wins, the others get `etagMismatch`.
    public static func usersConcurrentETagUpdate(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "etag@example.com")
            let results = await concurrently(60) { index in
                try await store.updateUser(
                    id: user.id, ifETag: user.etag, changes: UserChanges(firstName: "Name\(index)"), now: at(1)
                ).user
            }
            let winners = results.compactMap { try? $0.get() }
            #expect(winners.count == 1)
            #expect(results.filter { storeErrorCode($0) == .etagMismatch }.count == 59)
            let final = try #require(try await store.user(id: user.id))
            #expect(final == winners.first)
            #expect(final.etag != user.etag)
        }
    }

    /// The change feed returns the latest state of changed users in change order, with tombstones.
    public static func userChangeFeed(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            #expect(try await store.latestUserChangeSequence() == 0)
            #expect(try await store.userChanges(after: 0, limit: 10).isEmpty)
            let a = try await makeUser(store, email: "a@example.com")
            let b = try await makeUser(store, email: "b@example.com")
            let c = try await makeUser(store, email: "c@example.com")
            #expect(a.changeSequence < b.changeSequence && b.changeSequence < c.changeSequence)
            let a2 = try await store.updateUser(
                id: a.id, ifETag: a.etag, changes: UserChanges(lastName: "A2"),
                now: at(1)
            ).user
            let b2 = try await store.deleteUser(id: b.id, ifETag: nil, effects: .none, now: at(2)).user

            let all = try await store.userChanges(after: 0, limit: 100)
            #expect(all == [c, a2, b2])
            #expect(all.last?.deleted == true)
            #expect(try await store.latestUserChangeSequence() == b2.changeSequence)
            let firstPage = try await store.userChanges(after: 0, limit: 2)
            #expect(firstPage == [c, a2])
            let rest = try await store.userChanges(after: try #require(firstPage.last).changeSequence, limit: 2)
            #expect(rest == [b2])
            #expect(try await store.userChanges(after: b2.changeSequence, limit: 10).isEmpty)

            // Concurrent changes take distinct, gap-free positions in the feed.
            let before = try await store.latestUserChangeSequence()
            _ = await concurrently(50) { index in try await makeUser(store, email: "feed\(index)@example.com") }
            let fed = try await store.userChanges(after: before, limit: 100)
            #expect(fed.count == 50)
            #expect(fed.map(\.changeSequence) == fed.map(\.changeSequence).sorted())
            #expect(Set(fed.map(\.changeSequence)).count == 50)
        }
    }

    /// Filters, both orders, keyset paging and total counts of the user list.
    public static func userListing(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let specs: [(String, String, String, Role, Bool)] = [
                ("carol@example.com", "Carol", "Smith", .user, true),
                ("dave@example.com", "Dave", "Jones", .admin, true),
                ("erin@sample.org", "Erin", "SMITHERS", .user, false),
                ("frank@example.com", "Frank", "Miller", .user, true),
                ("smithy@example.com", "Grace", "Hopper", .superAdmin, true),
                ("heidi@example.com", "Heidi", "Klum", .user, true),
                ("ivan@example.com", "Ivan", "Ivanov", .user, true),
            ]
            var created: [UserRecord] = []
            for (index, spec) in specs.enumerated() {
                created.append(
                    try await makeUser(
                        store, email: spec.0, firstName: spec.1, lastName: spec.2, role: spec.3,
                        isActive: spec.4, createTime: at(Double(index)))
                )
            }
            let ivan = try #require(created.last)
            _ = try await store.deleteUser(id: ivan.id, ifETag: nil, effects: .none, now: at(100))
            let live = Array(created.dropLast())

            let all = try await store.listUsers(UserQuery(limit: 100))
            #expect(all.users.map(\.id) == live.map(\.id))
            #expect(all.totalCount == 6)
            let withDeleted = try await store.listUsers(UserQuery(includeDeleted: true, limit: 100))
            #expect(withDeleted.totalCount == 7)
            #expect(withDeleted.users.last?.deleted == true)

            let smith = try await store.listUsers(UserQuery(text: "SMITH", limit: 100))
            #expect(Set(smith.users.map(\.email)) == ["carol@example.com", "erin@sample.org", "smithy@example.com"])
            #expect(smith.totalCount == 3)
            let sample = try await store.listUsers(UserQuery(text: "Sample.ORG", limit: 100))
            #expect(sample.users.map(\.email) == ["erin@sample.org"])
            let percent = try await store.listUsers(UserQuery(text: "%", limit: 100))
            #expect(percent.users.isEmpty && percent.totalCount == 0)
            let underscore = try await store.listUsers(UserQuery(text: "_", limit: 100))
            #expect(underscore.users.isEmpty)

            let admins = try await store.listUsers(UserQuery(role: .admin, limit: 100))
            #expect(admins.users.map(\.email) == ["dave@example.com"])
            let inactive = try await store.listUsers(UserQuery(isActive: false, limit: 100))
            #expect(inactive.users.map(\.email) == ["erin@sample.org"])
            let activeUsers = try await store.listUsers(UserQuery(role: .user, isActive: true, limit: 100))
            #expect(activeUsers.totalCount == 3)

            for order in UserOrder.allCases {
                var expected = live
                switch order {
                case .createTimeAscending: break
                case .createTimeDescending: expected.reverse()
                case .emailAscending: expected.sort { $0.email < $1.email }
                case .emailDescending: expected.sort { $0.email > $1.email }
                }
                var paged: [UserRecord] = []
                var cursor: UserCursor?
                var pages = 0
                repeat {
                    let page = try await store.listUsers(UserQuery(order: order, after: cursor, limit: 4))
                    #expect(page.totalCount == 6, "total ignores the cursor (\(order))")
                    paged += page.users
                    cursor = page.users.count == 4 ? page.users.last.map(UserCursor.init(after:)) : nil
                    pages += 1
                } while cursor != nil && pages < 10
                #expect(paged.map(\.id) == expected.map(\.id), "order \(order)")
            }

            // Ties on create time are broken by id.
            let tied = try await store.listUsers(UserQuery(text: "example.com", order: .createTimeAscending, limit: 2))
            let next = try await store.listUsers(
                UserQuery(text: "example.com", after: UserCursor(after: try #require(tied.users.last)), limit: 100)
            )
            #expect(Set(tied.users.map(\.id)).isDisjoint(with: next.users.map(\.id)))
            #expect(tied.users.count + next.users.count == tied.totalCount)
        }
    }
}
