import ClassyTesting
import Foundation
import Testing

/// Runs the built `classy` binary against a test server.
@Suite("classy CLI")
struct CLITests {
    /// The binary built beside the test bundle.
    static var binary: URL? { BuiltBinaries.url("classy") }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String

        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    }

    /// Runs `classy` with `arguments` (and `input` on stdin) to completion, at most 60 s; the
    /// configuration lives in `config`.
    static func run(_ arguments: [String], input: String? = nil, config: URL) async throws -> Outcome {
        let binary = try #require(Self.binary, "classy must be built (swift build --build-tests)")
        // Generous per-call deadline: the whole suite shares two cores with this server.
        let child = try Spawn.Child(
            binary.path, arguments + ["--timeout", "120"],
            environment: [
                "PATH": "/usr/bin:/bin", "HOME": config.path,
                "CLASSY_CONFIG_DIR": config.appendingPathComponent("classy").path,
            ],
            input: true
        )
        let stdin = try #require(child.input)
        // A child that has already ended does not read it (a write then fails): its status and output tell.
        if let input { try? stdin.write(contentsOf: Data(input.utf8)) }
        try stdin.close()
        guard let ended = try await child.waitForExit(timeout: .seconds(60)) else {
            try await child.stop()
            throw TimedOut(seconds: 60)
        }
        return Outcome(status: ended.status, stdout: child.stdout, stderr: child.stderr)
    }

    @Test("login --password-stdin, whoami --json, users list --json, logout; tokens saved 0600 in CLASSY_CONFIG_DIR")
    func loginWhoamiUsersLogout() async throws {
        try await withTestServer { server async throws in
            let admin = try await server.makeAccount(role: .admin)
            let other = try await server.makeAccount()
            try await withTemporaryDirectory { config in
                let login = try await Self.run(
                    ["login", "--server", "127.0.0.1:\(server.port)", "--email", admin.email, "--password-stdin"],
                    input: TestServer.userPassword + "\n", config: config
                )
                #expect(login.status == 0, "\(login.stderr)")
                #expect(login.stdout.contains("signed in to 127.0.0.1:\(server.port) as \(admin.email)"))
                let tokens = config.appendingPathComponent("classy/profiles/default/tokens.json").path
                let mode = try FileManager.default.attributesOfItem(atPath: tokens)[.posixPermissions] as? NSNumber
                #expect(mode?.intValue == 0o600)

                // The profile remembers the server: no --server from here on.
                let whoami = try await Self.run(["whoami", "--json"], config: config)
                #expect(whoami.status == 0, "\(whoami.stderr)")
                let me = try #require(try whoami.json() as? [String: Any])
                #expect(me["email"] as? String == admin.email)
                #expect(me["role"] as? String == "admin")

                let list = try await Self.run(["users", "list", "--json"], config: config)
                #expect(list.status == 0, "\(list.stderr)")
                let page = try #require(try list.json() as? [String: Any])
                let emails = (page["users"] as? [[String: Any]] ?? []).compactMap { $0["email"] as? String }
                #expect(emails.contains(admin.email))
                #expect(emails.contains(other.email))

                let logout = try await Self.run(["logout"], config: config)
                #expect(logout.status == 0, "\(logout.stderr)")
                #expect(!FileManager.default.fileExists(atPath: tokens))
                let after = try await Self.run(["whoami"], config: config)
                #expect(after.status == 2)
                #expect(after.stderr.contains("not signed in"))
            }
        }
    }

    @Test("bad input and refusals exit with the documented codes and one clear line")
    func errors() async throws {
        try await withTestServer { server async throws in
            let user = try await server.makeAccount()
            try await withTemporaryDirectory { config in
                let badServer = try await Self.run(["whoami", "--server", "nowhere"], config: config)
                #expect(badServer.status == 64)
                #expect(badServer.stderr.contains("--server must be HOST:PORT"))

                let wrong = try await Self.run(
                    ["login", "--server", "127.0.0.1:\(server.port)", "--email", user.email, "--password-stdin"],
                    input: "not the password\n", config: config
                )
                #expect(wrong.status == 2)
                #expect(wrong.stderr.contains("wrong email or password"))

                let noTTY = try await Self.run(
                    ["login", "--server", "127.0.0.1:\(server.port)", "--email", user.email], config: config
                )
                #expect(noTTY.status == 64)
                #expect(noTTY.stderr.contains("--password-stdin"))

                let login = try await Self.run(
                    ["login", "--server", "127.0.0.1:\(server.port)", "--email", user.email, "--password-stdin"],
                    input: TestServer.userPassword + "\n", config: config
                )
                #expect(login.status == 0, "\(login.stderr)")
                let forbidden = try await Self.run(["users", "list"], config: config)
                #expect(forbidden.status == 3, "\(forbidden.stderr)")
                #expect(forbidden.stderr.contains("FORBIDDEN"))

                let nothingToChange = try await Self.run(["users", "update", "some-id"], config: config)
                #expect(nothingToChange.status == 64)

                let unreachable = try await Self.run(["sessions", "--server", "127.0.0.1:1"], config: config)
                #expect(unreachable.status == 6, "\(unreachable.stderr)")
            }
        }
    }

    @Test("a mutation made while the server is unreachable exits 75 and is sent first by the next command")
    func offlineQueue() async throws {
        try await withTestServer { server async throws in
            let admin = try await server.makeAccount(role: .admin)
            try await withTemporaryDirectory { config in
                let login = try await Self.run(
                    ["login", "--server", "127.0.0.1:\(server.port)", "--email", admin.email, "--password-stdin"],
                    input: TestServer.userPassword + "\n", config: config
                )
                #expect(login.status == 0, "\(login.stderr)")
                // Same profile and tokens, but nothing listens on port 1.
                let queued = try await Self.run(
                    ["block-ip", "192.0.2.55", "--reason", "offline", "--server", "127.0.0.1:1"], config: config
                )
                #expect(queued.status == 75, "\(queued.stderr)")
                #expect(queued.stdout.contains("queued BlockIP"))
                let waiting = try await Self.run(["outbox", "--json", "--server", "127.0.0.1:1"], config: config)
                #expect(waiting.status == 0, "\(waiting.stderr)")
                #expect(
                    (try waiting.json() as? [[String: Any]])?.compactMap { $0["operation"] as? String } == ["BlockIP"])

                // Back on the profile's server: the next command sends the queued block first.
                let whoami = try await Self.run(["whoami"], config: config)
                #expect(whoami.status == 0, "\(whoami.stderr)")
                let blocks = try await server.monitoring.listBlockedIPs(
                    .init(), metadata: .bearer(try await server.signIn(role: .admin).accessToken)
                )
                #expect(blocks.blockedIps.map(\.ipAddress) == ["192.0.2.55"])
                let empty = try await Self.run(["outbox", "--json"], config: config)
                #expect((try empty.json() as? [Any])?.isEmpty == true, "\(empty.stdout)")
            }
        }
    }
}
