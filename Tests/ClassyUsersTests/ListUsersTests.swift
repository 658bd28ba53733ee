import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

/// ListUsers and GetUser over TCP.
@Suite("ListUsers and GetUser")
struct ListUsersTests {
    /// Every page of a listing, following next_page_token; runs `between` after each page.
    static func allPages(
        _ server: TestServer,
        token: String,
        request: Classy_Users_V1_ListUsersRequest,
        between: (Int) async throws -> Void = { _ in }
    ) async throws -> [Classy_Users_V1_User] {
        var users: [Classy_Users_V1_User] = []
        var request = request
        for page in 0..<1000 {
            let response = try await server.users.listUsers(request, metadata: .bearer(token))
            users += response.users
            if response.nextPageToken.isEmpty { return users }
            #expect(response.users.count == Int(request.pageSize))
            request.pageToken = response.nextPageToken
            try await between(page)
        }
        Issue.record("paging did not end")
        return users
    }

    @Test("filters: query over email and names, role, active, show_deleted; total_size counts matches")
    func filters() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            let ada = try await server.makeUser(email: "ada@math.test", firstName: "Ada", lastName: "Lovelace")
            let grace = try await server.makeUser(email: "grace@navy.test", firstName: "Grace", lastName: "Hopper")
            let alan = try await server.makeUser(
                role: .admin, email: "alan@bletchley.test", firstName: "Alan", lastName: "Turing")
            _ = try await server.store.updateUser(
                id: grace.id, ifETag: nil, changes: UserChanges(isActive: false), effects: .none,
                now: server.clock.now()
            )
            let gone = try await server.makeUser(email: "gone@math.test", firstName: "Gone", lastName: "Away")
            _ = try await server.store.deleteUser(id: gone.id, ifETag: nil, effects: .none, now: server.clock.now())

            func ids(_ request: Classy_Users_V1_ListUsersRequest) async throws -> (Set<String>, Int32) {
                let response = try await server.users.listUsers(request, metadata: .bearer(token))
                return (Set(response.users.map(\.id)), response.totalSize)
            }
            // Case-insensitive substring of email, first or last name.
            #expect(try await ids(.with { $0.query = "MATH" }) == ([ada.id], 1))
            #expect(try await ids(.with { $0.query = "hopp" }) == ([grace.id], 1))
            #expect(try await ids(.with { $0.query = "alan" }) == ([alan.id], 1))
            // LIKE wildcards are literal.
            #expect(try await ids(.with { $0.query = "%" }).1 == 0)
            #expect(
                try await ids(
                    .with {
                        $0.query = "math"; $0.showDeleted = true
                    }) == ([ada.id, gone.id], 2))
            #expect(
                try await ids(
                    .with {
                        $0.role = .admin; $0.query = "test"
                    }
                ).0.contains(alan.id))
            #expect(
                try await ids(
                    .with {
                        $0.role = .admin; $0.query = "test"
                    }
                ).0.contains(ada.id) == false)
            #expect(try await ids(.with { $0.activeFilter = false }) == ([grace.id], 1))
            let active = try await ids(.with { $0.activeFilter = true })
            #expect(active.0.contains(ada.id) && !active.0.contains(grace.id) && !active.0.contains(gone.id))
            // Everyone: the primary admin, the caller, ada, grace, alan.
            let all = try await ids(.init())
            #expect(all.1 == 5)
            #expect(all.0.count == 5)
            let deleted = try await server.users.listUsers(
                .with {
                    $0.showDeleted = true; $0.query = "gone"
                }, metadata: .bearer(token))
            #expect(deleted.users.first?.deleted == true)
        }
    }

    @Test("order_by: create_time (default), create_time desc, email, email desc; anything else INVALID_FIELD")
    func ordering() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            for name in ["carol", "alice", "bob"] {
                server.clock.advance(by: 1)
                try await server.makeUser(email: "\(name)@order.test")
            }
            func emails(_ orderBy: String) async throws -> [String] {
                try await server.users.listUsers(
                    .with {
                        $0.query = "order.test"; $0.orderBy = orderBy
                    }, metadata: .bearer(token)
                ).users.map(\.email)
            }
            #expect(try await emails("") == ["carol@order.test", "alice@order.test", "bob@order.test"])
            #expect(try await emails("create_time") == ["carol@order.test", "alice@order.test", "bob@order.test"])
            #expect(try await emails("create_time desc") == ["bob@order.test", "alice@order.test", "carol@order.test"])
            #expect(try await emails("email") == ["alice@order.test", "bob@order.test", "carol@order.test"])
            #expect(try await emails("email desc") == ["carol@order.test", "bob@order.test", "alice@order.test"])
            for bad in ["name", "email sideways", "create_time desc email", "password"] {
                let error = await expectRPCError(.invalidArgument, .invalidField) {
                    _ = try await emails(bad)
                }
                #expect(error?.fieldViolations.map(\.field) == ["order_by"])
            }
        }
    }

    @Test(
        "keyset paging: no user that existed at the start is skipped or repeated while users are inserted and deleted",
        arguments: ["create_time", "create_time desc", "email", "email desc"]
    )
    func pagingUnderConcurrentChanges(orderBy: String) async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            // The clock stands still, so create times tie and the id must break them.
            var initial: [UserRecord] = []
            for _ in 0..<30 { initial.append(try await server.makeUser()) }
            let victims = Set(initial.shuffled().prefix(4).map(\.id))
            let startIDs = Set(
                try await Self.allPages(server, token: token, request: .with { $0.pageSize = 500 }).map(\.id))
            let inserter = Task {
                for _ in 0..<20 { try await server.makeUser() }
            }
            let listed = try await Self.allPages(
                server,
                token: token,
                request: .with {
                    $0.pageSize = 4; $0.orderBy = orderBy
                }
            ) { page in
                // Insert between pages too (deterministically), and delete some users not yet seen.
                try await server.makeUser()
                try await server.makeUser(email: "aaa-\(page)@classy.test")
                try await server.makeUser(email: "zzz-\(page)@classy.test")
                if page == 1 {
                    for id in victims {
                        _ = try await server.store.deleteUser(
                            id: id, ifETag: nil, effects: .none, now: server.clock.now())
                    }
                }
            }
            try await inserter.value
            let listedIDs = listed.map(\.id)
            #expect(Set(listedIDs).count == listedIDs.count, "a user was repeated")
            let survivors = startIDs.subtracting(victims)
            let missing = survivors.subtracting(listedIDs)
            #expect(missing.isEmpty, "skipped \(missing.count) users")
        }
    }

    @Test("page tokens are opaque, bound to their filters, and rejected when forged")
    func pageTokens() async throws {
        try await withTestServer { server async throws in
            let (_, token, _) = try await server.signIn(role: .admin)
            for _ in 0..<3 { try await server.makeUser() }
            let first = try await server.users.listUsers(.with { $0.pageSize = 2 }, metadata: .bearer(token))
            #expect(first.users.count == 2)
            #expect(first.totalSize == 5)
            #expect(!first.nextPageToken.isEmpty)
            let error = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.listUsers(
                    .with {
                        $0.pageSize = 2; $0.orderBy = "email"; $0.pageToken = first.nextPageToken
                    },
                    metadata: .bearer(token)
                )
            }
            #expect(error?.fieldViolations.map(\.field) == ["page_token"])
            await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.listUsers(.with { $0.pageToken = "not-a-token" }, metadata: .bearer(token))
            }
            let tooBig = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.listUsers(.with { $0.pageSize = 501 }, metadata: .bearer(token))
            }
            #expect(tooBig?.fieldViolations.map(\.field) == ["page_size"])
            // The last page has no next token.
            let last = try await server.users.listUsers(
                .with {
                    $0.pageSize = 3; $0.pageToken = first.nextPageToken
                }, metadata: .bearer(token)
            )
            #expect(last.users.count == 3)
            #expect(last.nextPageToken.isEmpty)
        }
    }

    @Test("GetUser: any live user for admins and services; NOT_FOUND for unknown or deleted")
    func getUser() async throws {
        try await withTestServer { server async throws in
            let (_, adminToken, _) = try await server.signIn(role: .admin)
            let (_, serviceToken) = try await server.serviceToken()
            let user = try await server.makeUser()
            for token in [adminToken, serviceToken] {
                let fetched = try await server.users.getUser(.with { $0.userID = user.id }, metadata: .bearer(token))
                #expect(fetched.user.id == user.id)
                #expect(fetched.user.email == user.email)
            }
            await expectRPCError(.notFound, .notFound) {
                _ = try await server.users.getUser(
                    .with { $0.userID = UUID().uuidString.lowercased() }, metadata: .bearer(adminToken)
                )
            }
            let invalid = await expectRPCError(.invalidArgument, .invalidField) {
                _ = try await server.users.getUser(.with { $0.userID = "nope" }, metadata: .bearer(adminToken))
            }
            #expect(invalid?.fieldViolations.map(\.field) == ["user_id"])
            _ = try await server.store.deleteUser(id: user.id, ifETag: nil, effects: .none, now: server.clock.now())
            await expectRPCError(.notFound, .notFound) {
                _ = try await server.users.getUser(.with { $0.userID = user.id }, metadata: .bearer(adminToken))
            }
        }
    }
}
