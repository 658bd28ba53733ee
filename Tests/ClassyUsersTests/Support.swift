import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

extension TestServer {
    /// Opens another session for an existing user and returns its access token and session id.
    func openSession(for user: UserRecord) async throws -> (accessToken: String, sessionID: String) {
        let now = clock.now()
        let session = try await store.createSession(
            SessionRecord(
                userID: user.id, ipAddress: "127.0.0.1", createTime: now,
                expireTime: now.addingTimeInterval(7 * 24 * 3600),
                currentRefreshHash: UUID().uuidString
            ),
            effects: .none
        )
        let token = try runtime.tokens.issueAccessToken(userID: user.id, sessionID: session.id, role: user.role).token
        return (token, session.id)
    }

    /// The primary admin with a fresh session.
    func signInPrimaryAdmin() async throws -> (user: UserRecord, accessToken: String) {
        let admin = try #require(try await store.primaryAdmin())
        return (admin, try await openSession(for: admin).accessToken)
    }

    /// The user as the server sees it now.
    func currentUser(_ id: String) async throws -> UserRecord {
        try #require(try await store.user(id: id))
    }

    /// Creates a user of `role` straight in the store (no session).
    @discardableResult
    func makeUser(
        role: Role = .user,
        email: String? = nil,
        firstName: String = "Ada",
        lastName: String = "Lovelace"
    ) async throws -> UserRecord {
        try await store.createUser(
            NewUser(
                email: email ?? "\(role.claim)-\(UUID().uuidString.prefix(8).lowercased())@classy.test",
                passwordHash: "unused",
                firstName: firstName,
                lastName: lastName,
                role: role,
                createTime: clock.now()
            ),
            effects: .none
        )
    }
}

extension Classy_Users_V1_UpdateUserRequest {
    /// An UpdateUser request for `user` at its current etag, changing the fields named in `paths`.
    static func change(
        _ user: UserRecord,
        _ paths: [String],
        _ edit: (inout Classy_Users_V1_User) -> Void = { _ in }
    ) -> Self {
        .with {
            $0.user = .with {
                $0.id = user.id
                $0.etag = user.etag
                edit(&$0)
            }
            $0.updateMask = .with { $0.paths = paths }
        }
    }
}
