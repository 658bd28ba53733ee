import ArgumentParser
import ClassySDK
import Foundation

func done(_ outcome: MutationOutcome<Void>) -> MutationOutcome<Done> {
    switch outcome {
    case .applied: .applied(Done())
    case .queued(let pending): .queued(pending)
    case .conflicted(let conflict): .conflicted(conflict)
    }
}

extension User {
    var line: String {
        let state = deleted ? "deleted" : (isActive ? "active" : "inactive")
        return "\(id)  \(email)  \(firstName) \(lastName)  \(role.rawValue)  \(state)  etag=\(etag)"
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sign in and save the tokens in the profile.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Account email.") var email: String
    @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    func run() async throws {
        let password = try readPassword(prompt: "Password for \(email): ", fromStdin: passwordStdin)
        let profile = global.resolvedProfile()
        try await global.run(replayOutbox: false) { client, output in
            let user = try await client.auth.signIn(email: email, password: password)
            try global.saveProfile(profile)
            output.print(
                json: user, text: "signed in to \(profile.server.description) as \(user.email) (\(user.role.rawValue))")
        }
    }
}

struct SignedOut: Encodable {
    var signedOut = true
    var revokedSessions: Int
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sign out (revokes the session on the server).")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Sign out every session of the account.") var all = false

    func run() async throws {
        try await global.run(replayOutbox: false) { client, output in
            guard await client.account != nil else {
                output.print(json: SignedOut(revokedSessions: 0), text: "not signed in")
                return
            }
            let revoked = try await client.auth.signOut(all ? .all : .current)
            output.print(json: SignedOut(revokedSessions: revoked), text: "signed out")
        }
    }
}

struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the signed-in account.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.run { client, output in
            let me = try await client.users.me()
            let note = me.isStale ? " (cached: server unreachable)" : ""
            output.print(
                json: me.value,
                text:
                    "\(me.value.email) \(me.value.firstName) \(me.value.lastName) [\(me.value.role.rawValue)] id=\(me.value.id)\(note)"
            )
        }
    }
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or revoke sessions.", subcommands: [List.self, Revoke.self], defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the account's active sessions.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.run { client, output in
                let sessions = try await client.auth.sessions()
                output.print(
                    json: sessions.value,
                    text: sessions.value.map {
                        "\($0.id)  \($0.deviceName.isEmpty ? "-" : $0.deviceName)  \($0.ipAddress)  \($0.userAgent)\($0.isCurrent ? "  (current)" : "")"
                    }.joined(separator: "\n")
                )
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a session by id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Session id.") var id: String

        func run() async throws {
            try await global.run { client, output in
                try await client.auth.revokeSession(id: id)
                output.print(json: Done(), text: "revoked \(id)")
            }
        }
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage users (admins).",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self], defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "Email or name substring.") var query: String?
        @Option(name: .long, help: "user, admin, super_admin or service.") var role: String?
        @Option(name: .long, help: "true or false.") var active: Bool?
        @Option(name: .customLong("page-size"), help: "1 to 500.") var pageSize: Int?
        @Option(name: .customLong("page-token")) var pageToken: String?

        func validate() throws {
            if let role, Role(rawValue: role) == nil {
                throw ValidationError("--role must be user, admin, super_admin or service")
            }
            if let pageSize, !(1...500).contains(pageSize) { throw ValidationError("--page-size must be 1 to 500") }
        }

        func run() async throws {
            try await global.run { client, output in
                let page = try await client.users.list(
                    UserQuery(
                        text: query, role: role.flatMap(Role.init), active: active, pageSize: pageSize,
                        pageToken: pageToken)
                )
                output.print(
                    json: page,
                    text: (page.users.map(\.line) + (page.nextPageToken.map { ["next page: --page-token \($0)"] } ?? []))
                        .joined(separator: "\n")
                )
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: String

        func run() async throws {
            try await global.run { client, output in
                let user = try await client.users.get(id: id)
                output.print(json: user.value, text: user.value.line + (user.isStale ? "  (cached)" : ""))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user (the password is prompted or read from stdin).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long) var email: String
        @Option(name: .customLong("first-name")) var firstName: String
        @Option(name: .customLong("last-name")) var lastName: String
        @Option(name: .long, help: "user (default), admin or super_admin.") var role = "user"
        @Flag(name: .customLong("password-stdin")) var passwordStdin = false

        func validate() throws {
            guard Role(rawValue: role) != nil else {
                throw ValidationError("--role must be user, admin or super_admin")
            }
        }

        func run() async throws {
            let password = try readPassword(prompt: "Password for \(email): ", fromStdin: passwordStdin)
            try await global.run { client, output in
                let outcome = try await client.users.create(
                    NewUser(
                        email: email, password: password, firstName: firstName, lastName: lastName,
                        role: Role(rawValue: role)!)
                )
                try report(outcome, output: output) { "created \($0.line)" }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's names, role or active flag.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: String
        @Option(name: .customLong("first-name")) var firstName: String?
        @Option(name: .customLong("last-name")) var lastName: String?
        @Option(name: .long) var role: String?
        @Option(name: .long, help: "true or false.") var active: Bool?
        @Option(name: .long, help: "The version the change is made on (default: the current one).") var etag: String?

        func currentETag(_ client: ClassyClient) async throws -> String {
            if let etag { return etag }
            return try await client.users.get(id: id).value.etag
        }

        func validate() throws {
            if let role, Role(rawValue: role) == nil {
                throw ValidationError("--role must be user, admin, super_admin or service")
            }
            if firstName == nil, lastName == nil, role == nil, active == nil {
                throw ValidationError("name something to change: --first-name, --last-name, --role or --active")
            }
        }

        func run() async throws {
            try await global.run { client, output in
                let version = try await currentETag(client)
                let outcome = try await client.users.update(
                    id: id,
                    UserUpdate(
                        firstName: firstName, lastName: lastName, role: role.flatMap(Role.init), isActive: active),
                    etag: version
                )
                try report(outcome, output: output) { "updated \($0.line)" }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user (their sessions end).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: String
        @Option(name: .long, help: "The version to delete (default: the current one).") var etag: String?

        func currentETag(_ client: ClassyClient) async throws -> String {
            if let etag { return etag }
            return try await client.users.get(id: id).value.etag
        }

        func run() async throws {
            try await global.run { client, output in
                let version = try await currentETag(client)
                try report(done(try await client.users.delete(id: id, etag: version)), output: output) { _ in
                    "deleted \(id)"
                }
            }
        }
    }
}

struct Notifications: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List notifications, or mark them read.", subcommands: [List.self, Read.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the latest notifications.")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .long, help: "Only unread ones.") var unread = false

        func run() async throws {
            try await global.run { client, output in
                let page = try await client.notifications.list(unreadOnly: unread)
                output.print(
                    json: page.value,
                    text: (["\(page.value.unreadCount) unread\(page.isStale ? " (cached)" : "")"]
                        + page.value.notifications.map {
                            "\($0.read ? " " : "*") \($0.id)  \($0.kind.rawValue)  \($0.title)"
                        })
                        .joined(separator: "\n")
                )
            }
        }
    }

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark notifications read.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Notification ids.") var ids: [String] = []
        @Flag(name: .long, help: "Mark every notification read.") var all = false

        func validate() throws {
            if ids.isEmpty != all { throw ValidationError("give notification ids or --all (not both)") }
        }

        func run() async throws {
            try await global.run { client, output in
                let outcome: MutationOutcome<Int>
                if all {
                    outcome = try await client.notifications.markAllRead()
                } else {
                    outcome = try await client.notifications.markRead(ids: ids)
                }
                try report(outcome, output: output) { "marked \($0) read" }
            }
        }
    }
}

struct BlockIP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block-ip", abstract: "Block an address or CIDR range.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Address or CIDR.") var address: String
    @Option(name: .long) var reason = "blocked with classy"
    @Option(name: .long, help: "Seconds (default: permanent).") var duration: Int64?

    func validate() throws {
        if let duration, duration <= 0 { throw ValidationError("--duration must be a positive number of seconds") }
    }

    func run() async throws {
        try await global.run { client, output in
            let outcome = try await client.monitoring.blockIP(
                address, reason: reason, duration: duration.map { .seconds($0) })
            try report(outcome, output: output) {
                "blocked \($0.ipAddress)"
                    + ($0.permanent ? " permanently" : " until \($0.blockedUntil.map { "\($0)" } ?? "-")")
            }
        }
    }
}

struct UnblockIP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unblock-ip", abstract: "Lift a block.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Address or CIDR.") var address: String
    @Option(name: .long) var reason = "unblocked with classy"

    func run() async throws {
        try await global.run { client, output in
            try report(done(try await client.monitoring.unblockIP(address, reason: reason)), output: output) { _ in
                "unblocked \(address)"
            }
        }
    }
}

struct Unlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lift the failed-login lock of an email.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Email.") var email: String

    func run() async throws {
        try await global.run { client, output in
            try report(done(try await client.monitoring.unlockAccount(email: email)), output: output) { _ in
                "unlocked \(email)"
            }
        }
    }
}

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mutations queued while the server was unreachable.",
        subcommands: [List.self, Discard.self], defaultSubcommand: List.self
    )

    struct Item: Encodable {
        var id: Int64
        var operation: String
        var state: String
        var attempts: Int
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List queued mutations (after trying to send them).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.run { client, output in
                let items = try await client.outbox.pending().map {
                    Item(id: $0.id, operation: $0.operation.name, state: "\($0.state)", attempts: $0.attempts)
                }
                output.print(
                    json: items,
                    text: items.isEmpty
                        ? "outbox empty"
                        : items.map { "#\($0.id)  \($0.operation)  \($0.state)" }.joined(separator: "\n")
                )
            }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop a queued mutation.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: Int64

        func run() async throws {
            try await global.run(replayOutbox: false) { client, output in
                try await client.outbox.discard(id: id)
                output.print(json: Done(), text: "discarded #\(id)")
            }
        }
    }
}
