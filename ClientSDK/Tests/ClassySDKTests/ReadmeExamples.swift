import ClassySDK
import Foundation

/// The examples of ClientSDK/README.md, compiled with the tests against the public API only (plain
/// `import ClassySDK`), so the guide cannot drift from the SDK. The behaviour they show is tested by
/// the suites of this target.
enum ReadmeExamples {
    static func connecting() async throws {
        let configuration = ClassyClient.Configuration(
            host: "127.0.0.1", port: 50051,
            transportSecurity: .plaintext,
            clientInfo: ClientInfo(deviceName: "Ada's laptop", platform: "linux", appVersion: "1.0")
        )
        try await withClassyClient(configuration) { client in
            print(await client.isReachable())
        }
    }

    static func signingIn() async throws {
        try await withClassyClient(.init()) { client in
            let watcher = Task {
                for await state in client.authState {
                    switch state {
                    case .signedIn(let account): print("signed in as", account.email)
                    case .signedOut(let reason): print("signed out:", reason)
                    }
                }
            }
            try await client.auth.signIn(email: "admin@classy.local", password: "the admin password")
            let sessions = try await client.auth.sessions()
            for session in sessions.value { print(session.id, session.deviceName, session.isCurrent) }
            try await client.auth.signOut()
            watcher.cancel()
        }
    }

    static func errors(client: ClassyClient) async throws {
        do {
            try await client.auth.signIn(email: "nobody@example.com", password: "short")
        } catch let error as ClassyClientError {
            print(error.status)
            print(error.reason)
            print(error.fieldViolations)
            print(error.retryAfter as Any)
            print(error.isOffline)
        }
    }

    static func cache(client: ClassyClient) async throws {
        let me = try await client.users.me()
        print(me.value.firstName, me.isStale ? "(offline, \(Int(me.age())) s old)" : "")
        let inbox = try await client.notifications.list(unreadOnly: false)
        print(inbox.value.unreadCount, inbox.value.notifications.map(\.title))
        _ = try await client.auth.sessions()
        try await client.users.refreshDirectory()
        let admins = try await client.users.directory(matching: "ada")
        print(admins.value.count)
    }

    static func outbox(client: ClassyClient) async throws {
        switch try await client.users.updateMe(firstName: "Ada") {
        case .applied(let user): print("saved", user.etag)
        case .queued(let pending): print("offline: #\(pending.id) will be sent later")
        case .conflicted(let conflict): print("server has", conflict.server?.firstName ?? "-")
        }
        for mutation in try await client.outbox.pending() {
            print(mutation.id, mutation.operation.name, mutation.state)
        }
        let report = try await client.synchronize()
        print(report.applied, report.failed, report.conflicted, report.offline)
        let updates = Task {
            for await mutation in client.outbox.updates() { print(mutation.id, mutation.state) }
        }
        try await client.outbox.retry(id: 3)
        try await client.outbox.discard(id: 4)
        updates.cancel()
    }

    static func conflicts() {
        var configuration = ClassyClient.Configuration()
        configuration.conflictPolicy = .serverWins
        configuration.conflictPolicy = .clientWins
        configuration.conflictPolicy = .custom { conflict in
            .apply(UserUpdate(firstName: conflict.server?.firstName, lastName: conflict.local?.lastName))
        }
        _ = configuration
    }

    static func streams(client: ClassyClient) async throws {
        for try await notification in client.notifications.watch() {
            print(notification.kind, notification.title)
        }
        for try await event in client.monitoring.securityEvents(types: [.loginAttempt, .ipBlocked], after: 0) {
            if case .loginAttempt(let attempt) = event.kind { print(event.sequence, attempt.email, attempt.success) }
        }
    }

    static func admin(client: ClassyClient) async throws {
        let page = try await client.users.list(UserQuery(text: "example.com", role: .user, pageSize: 100))
        print(page.totalSize)
        let created = try await client.users.create(
            NewUser(email: "bob@example.com", password: "a long password", firstName: "Bob", lastName: "Builder")
        )
        if let bob = created.value {
            _ = try await client.users.update(id: bob.id, UserUpdate(isActive: false), etag: bob.etag)
        }
        _ = try await client.monitoring.blockIP("203.0.113.0/24", reason: "scanner", duration: .seconds(3600))
        _ = try await client.monitoring.unlockAccount(email: "bob@example.com")
        print(try await client.monitoring.metrics().failedLogins)
    }

    static func rootReadme(password: String) async throws {
        try await withClassyClient(.init(host: "127.0.0.1", port: 50051)) { client in
            try await client.auth.signIn(email: "admin@classy.local", password: password)
            let me = try await client.users.me()
            print(me.value.email)
            _ = try await client.users.updateMe(firstName: "Ada")
        }
    }
}
