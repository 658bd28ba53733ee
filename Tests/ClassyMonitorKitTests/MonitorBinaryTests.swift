import ClassyAPI
import ClassyTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real `classy-monitor` against the real `classy-server`.
@Suite("classy-monitor executable", .serialized)
struct MonitorBinaryTests {
    var monitor: URL {
        get throws {
            try #require(
                BuiltBinaries.url("classy-monitor"), "classy-monitor must be built (swift build --build-tests)")
        }
    }

    func adminArguments(_ port: Int, signIn flag: String = "--email") -> [String] {
        ["--server", "127.0.0.1:\(port)", flag, ServerProcess.adminEmail, "--password-stdin"]
    }

    /// Runs a one-shot subcommand to completion.
    func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]
    ) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let child = try Child(try monitor, arguments, environment: environment)
        if let stdin { child.write(stdin) }
        try child.input.fileHandleForWriting.close()
        let status = try await child.waitForExit(limit: .seconds(60))
        return (status, child.stdout, child.stderr)
    }

    @Test("JSON events for failed logins; no gap and no duplicate across a server crash and a monitor restart")
    func resumeAcrossRestarts() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("classy.sqlite").path
        let stateFile = directory.appendingPathComponent("monitor.state").path

        var server = try await ServerProcess(database: database)
        let port = server.port
        let first = try Child(
            try monitor, ["watch", "--json", "--since", "0", "--state-file", stateFile] + adminArguments(port))
        first.write(ServerProcess.adminPassword + "\n")

        let before = (1...3).map { "before-\($0)@attack.test" }
        try await failLogins(port: port, emails: before)
        #expect(try await first.waitForStdout { text in before.allSatisfy { text.contains($0) } }, "\(first.stderr)")

        // The server dies; a new one starts on the same port and database.
        try await server.crash()
        server = try await ServerProcess(database: database, port: port)
        let after = (1...3).map { "after-\($0)@attack.test" }
        try await failLogins(port: port, emails: after)
        #expect(try await first.waitForStdout { text in after.allSatisfy { text.contains($0) } }, "\(first.stderr)")
        #expect(first.stderr.contains("reconnecting in"))

        // SIGTERM: the monitor saves its position and exits 0.
        first.send(SIGTERM)
        #expect(try await first.waitForExit() == 0)
        let lastPrinted = try #require(sequences(first.stdout).last)
        #expect(try String(contentsOfFile: stateFile, encoding: .utf8) == "{\"last_sequence\":\(lastPrinted)}\n")

        // Events while no monitor runs are printed by the next one, which resumes from the state file.
        let whileDown = (1...2).map { "down-\($0)@attack.test" }
        try await failLogins(port: port, emails: whileDown)
        let second = try Child(try monitor, ["--json", "--state-file", stateFile] + adminArguments(port))
        second.write(ServerProcess.adminPassword + "\n")
        #expect(
            try await second.waitForStdout { text in whileDown.allSatisfy { text.contains($0) } }, "\(second.stderr)")
        second.send(SIGINT)
        #expect(try await second.waitForExit() == 0)
        _ = try await server.stop()

        let firstSequences = sequences(first.stdout)
        let secondSequences = sequences(second.stdout)
        #expect(secondSequences.first == lastPrinted + 1)
        let all = firstSequences + secondSequences
        let start = try #require(all.first)
        #expect(all == Array(start..<(start + UInt64(all.count))), "sequences must be contiguous: \(all)")
        let attempts = loginAttempts(first.stdout) + loginAttempts(second.stdout)
        for email in before + after + whileDown {
            #expect(attempts.filter { $0.email == email }.count == 1, "\(email) once")
        }
        // The schema of one of them.
        let line = try #require(
            jsonLines(first.stdout).first { ($0["data"] as? [String: Any])?["email"] as? String == before[0] })
        let data = try #require(line["data"] as? [String: Any])
        #expect(line["type"] as? String == "login_attempt")
        #expect((line["time"] as? String)?.hasSuffix("Z") == true)
        #expect(data["success"] as? Bool == false)
        #expect(data["failure_reason"] as? String == "invalid_credentials")
        #expect(data["ip_address"] as? String == "127.0.0.1")
    }

    @Test("a revoked session is replaced by signing in again on reconnect, and the stream resumes without a gap")
    func reauthentication() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("classy.sqlite").path
        var server = try await ServerProcess(database: database)
        let port = server.port
        let watcher = try Child(try monitor, ["--json", "--since", "0"] + adminArguments(port))
        watcher.write(ServerProcess.adminPassword + "\n")
        try await failLogins(port: port, emails: ["reauth-1@attack.test"])
        #expect(try await watcher.waitForStdout { $0.contains("reauth-1@attack.test") }, "\(watcher.stderr)")

        // Every session of the admin is revoked, the monitor's included; the restart makes it reconnect with its
        // old token, which the server now refuses (SESSION_REVOKED).
        let token = try await adminToken(port: port)
        try await withClients(port: port) { auth, _ in
            _ = try await auth.logout(.with { $0.scope = .all }, metadata: ["authorization": "Bearer \(token)"])
        }
        try await server.crash()
        server = try await ServerProcess(database: database, port: port)
        try await failLogins(port: port, emails: ["reauth-2@attack.test"])
        #expect(try await watcher.waitForStdout { $0.contains("reauth-2@attack.test") }, "\(watcher.stderr)")
        #expect(watcher.stderr.contains("signing in again"), "\(watcher.stderr)")
        watcher.send(SIGTERM)
        #expect(try await watcher.waitForExit() == 0)
        _ = try await server.stop()

        let all = sequences(watcher.stdout)
        let start = try #require(all.first)
        #expect(all == Array(start..<(start + UInt64(all.count))), "sequences must be contiguous: \(all)")
        // The second sign-in is itself an event the monitor reports.
        #expect(loginAttempts(watcher.stdout).filter { $0.email == ServerProcess.adminEmail }.count >= 3)
    }

    @Test("exit statuses: usage 2, bad password 3, role too low 4, unreachable 5, not found 6")
    func exitStatuses() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess(database: directory.appendingPathComponent("classy.sqlite").path)
        let port = server.port

        let help = try await run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: classy-monitor") && help.stdout.contains("Exit status"))
        let attemptsHelp = try await run(["attempts", "--help"])
        #expect(attemptsHelp.status == 0)
        #expect(attemptsHelp.stdout.contains("--user") && attemptsHelp.stdout.contains("--outcome"))
        let version = try await run(["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("1."))
        let badFlag = try await run(["metrics", "--bogus"])
        #expect(badFlag.status == 2)
        let badTypes = try await run(["watch", "--types", "logins"], environment: ["CLASSY_TOKEN": "x"])
        #expect(badTypes.status == 2)
        #expect(badTypes.stderr.contains("unknown event type 'logins'"))
        let badStateFile = try await run(
            ["watch", "--state-file", "/nonexistent-dir/state"], environment: ["CLASSY_TOKEN": "x"])
        #expect(badStateFile.status == 2)
        #expect(badStateFile.stderr.contains("--state-file: cannot write"))
        let noCredentials = try await run(["metrics", "--server", "127.0.0.1:\(port)"])
        #expect(noCredentials.status == 2)
        #expect(noCredentials.stderr.contains("no credentials"))

        let wrongPassword = try await run(["metrics"] + adminArguments(port), stdin: "not the password\n")
        #expect(wrongPassword.status == 3)
        #expect(wrongPassword.stderr.contains("INVALID_CREDENTIALS"))
        let badToken = try await run(
            ["metrics", "--server", "127.0.0.1:\(port)"], environment: ["CLASSY_TOKEN": "not-a-jwt"])
        #expect(badToken.status == 3)

        let userToken = try await withClients(port: port) { auth, _ in
            try await auth.register(
                .with {
                    $0.email = "plain-user@classy.test"
                    $0.password = "a long enough password"
                    $0.firstName = "Plain"
                    $0.lastName = "User"
                }
            ).tokens.accessToken
        }
        let forbidden = try await run(
            ["blocked", "--server", "127.0.0.1:\(port)"], environment: ["CLASSY_TOKEN": userToken])
        #expect(forbidden.status == 4)
        #expect(forbidden.stderr.contains("FORBIDDEN"))
        let streamForbidden = try await run(
            ["watch", "--server", "127.0.0.1:\(port)"], environment: ["CLASSY_TOKEN": userToken])
        #expect(streamForbidden.status == 4)

        let notBlocked = try await run(
            ["unblock", "198.51.100.77"] + adminArguments(port), stdin: ServerProcess.adminPassword + "\n")
        #expect(notBlocked.status == 6)
        #expect(notBlocked.stderr.contains("NOT_FOUND"))
        _ = try await server.stop()

        let unreachable = try await run(
            ["metrics", "--server", "127.0.0.1:\(port)", "--timeout", "2"], environment: ["CLASSY_TOKEN": "x"])
        #expect(unreachable.status == 5)
        #expect(unreachable.stderr.contains("cannot reach the server at 127.0.0.1:\(port)"))
        let watchGivesUp = try await run(
            ["watch", "--server", "127.0.0.1:\(port)", "--give-up-after", "1"], environment: ["CLASSY_TOKEN": "x"]
        )
        #expect(watchGivesUp.status == 5)
    }

    @Test("block, blocked, attempts, metrics and unblock, as text and JSON")
    func administration() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess(database: directory.appendingPathComponent("classy.sqlite").path)
        let port = server.port
        let admin = adminArguments(port)
        let user = adminArguments(port, signIn: "--user")  // attempts filters with --email
        let password = ServerProcess.adminPassword + "\n"
        try await failLogins(port: port, emails: ["mallory@attack.test", "mallory@attack.test", "eve@attack.test"])

        let block = try await run(
            ["block", "203.0.113.9", "--duration", "10m", "--reason", "scanner", "--json"] + admin, stdin: password)
        #expect(block.status == 0, "\(block.stderr)")
        let made = try #require(jsonLines(block.stdout).first)
        #expect(made["ip_address"] as? String == "203.0.113.9")
        #expect(made["reason"] as? String == "scanner")
        #expect(made["permanent"] as? Bool == false)
        #expect(made["blocked_until"] is String)

        let blocked = try await run(["blocked", "--json"] + admin, stdin: password)
        #expect(blocked.status == 0)
        #expect(jsonLines(blocked.stdout).map { $0["ip_address"] as? String } == ["203.0.113.9"])
        let blockedText = try await run(["blocked"] + admin, stdin: password)
        #expect(blockedText.stdout.contains("203.0.113.9") && blockedText.stdout.contains("scanner"))

        let attempts = try await run(
            ["attempts", "--email", "mallory@attack.test", "--outcome", "failure", "--limit", "5", "--json"] + user,
            stdin: password)
        #expect(attempts.status == 0, "\(attempts.stderr)")
        let rows = jsonLines(attempts.stdout)
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0["email"] as? String == "mallory@attack.test" && $0["success"] as? Bool == false })
        let limited = try await run(["attempts", "--limit", "1", "--json"] + user, stdin: password)
        #expect(jsonLines(limited.stdout).count == 1)
        let successes = try await run(["attempts", "--outcome", "success"] + user, stdin: password)
        #expect(successes.stdout.contains(ServerProcess.adminEmail) && !successes.stdout.contains("mallory"))

        let metrics = try await run(["metrics", "--json"] + admin, stdin: password)
        #expect(metrics.status == 0)
        let figures = try #require(jsonLines(metrics.stdout).first)
        #expect((figures["failed_logins"] as? NSNumber)?.intValue == 3)
        #expect((figures["window_seconds"] as? NSNumber)?.intValue == 3600)
        #expect((figures["active_blocked_ips"] as? NSNumber)?.intValue == 1)
        let metricsText = try await run(["metrics"] + admin, stdin: password)
        #expect(metricsText.stdout.contains("failed logins") && metricsText.stdout.contains("failures per minute"))

        let badDuration = try await run(["block", "203.0.113.10", "--duration", "soon"] + admin, stdin: password)
        #expect(badDuration.status == 2)
        let badIP = try await run(["block", "not-an-ip"] + admin, stdin: password)
        #expect(badIP.status == 2)
        #expect(badIP.stderr.contains("INVALID_FIELD"))

        let unblock = try await run(["unblock", "203.0.113.9", "--reason", "done", "--json"] + admin, stdin: password)
        #expect(unblock.status == 0)
        #expect(unblock.stdout == "{\"ip_address\":\"203.0.113.9\",\"unblocked\":true}\n")
        let none = try await run(["blocked", "--json"] + admin, stdin: password)
        #expect(none.stdout.isEmpty)
        _ = try await server.stop()
    }

    @Test("a service account watches with client credentials (env or file) and --types filters")
    func serviceAccount() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess(database: directory.appendingPathComponent("classy.sqlite").path)
        let port = server.port
        let token = try await adminToken(port: port)
        let account = try await withClients(port: port) { auth, _ in
            try await auth.createServiceAccount(
                .with { $0.name = "siem" }, metadata: ["authorization": "Bearer \(token)"])
        }
        try await failLogins(port: port, emails: ["svc-watch@attack.test"])

        let fromEnvironment = try Child(
            try monitor,
            [
                "--json", "--since", "0", "--types", "login_attempt", "--server", "127.0.0.1:\(port)", "--client-id",
                account.serviceAccount.clientID,
            ],
            environment: ["CLASSY_CLIENT_SECRET": account.clientSecret]
        )
        #expect(
            try await fromEnvironment.waitForStdout { $0.contains("svc-watch@attack.test") },
            "\(fromEnvironment.stderr)")
        fromEnvironment.send(SIGTERM)
        #expect(try await fromEnvironment.waitForExit() == 0)
        // Only login attempts: the service account creation (an audit entry) is filtered out.
        #expect(jsonLines(fromEnvironment.stdout).allSatisfy { $0["type"] as? String == "login_attempt" })

        let secretFile = directory.appendingPathComponent("secret").path
        try (account.clientSecret + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
        let fromFile = try Child(
            try monitor,
            [
                "--since", "0", "--no-color", "--server", "127.0.0.1:\(port)", "--client-id",
                account.serviceAccount.clientID, "--client-secret-file", secretFile,
            ]
        )
        #expect(
            try await fromFile.waitForStdout {
                $0.contains("LOGIN FAILED   svc-watch@attack.test from 127.0.0.1: invalid credentials")
            }, "\(fromFile.stderr)")
        fromFile.send(SIGINT)
        #expect(try await fromFile.waitForExit() == 0)
        #expect(!fromFile.stdout.contains("\u{1B}["))

        let wrongSecret = try await run(
            ["metrics", "--server", "127.0.0.1:\(port)", "--client-id", account.serviceAccount.clientID],
            environment: ["CLASSY_CLIENT_SECRET": "wrong"])
        #expect(wrongSecret.status == 3)
        let notAllowed = try await run(
            ["metrics", "--server", "127.0.0.1:\(port)", "--client-id", account.serviceAccount.clientID],
            environment: ["CLASSY_CLIENT_SECRET": account.clientSecret])
        #expect(notAllowed.status == 4)
        _ = try await server.stop()
    }

    @Test("the dashboard draws on a pseudo-terminal, shows live data, and quits on q restoring the screen")
    func dashboardOnPTY() async throws {
        let script = URL(fileURLWithPath: "/usr/bin/script")
        try #require(FileManager.default.isExecutableFile(atPath: script.path), "util-linux script is needed")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess(database: directory.appendingPathComponent("classy.sqlite").path)
        let port = server.port
        try await failLogins(port: port, emails: ["dash-before@attack.test"])
        let token = try await adminToken(port: port)

        // The terminal is 100x30 (TIOCGWINSZ); COLUMNS/LINES say otherwise and must lose.
        let command = "stty cols 100 rows 30; exec \(try monitor.path) --dashboard --server 127.0.0.1:\(port)"
        let child = try Child(
            script, ["-qfec", command, "/dev/null"],
            environment: ["CLASSY_TOKEN": token, "COLUMNS": "70", "LINES": "20", "TERM": "xterm"]
        )
        #expect(
            try await child.waitForStdout { $0.contains("Classy Book security monitor") && $0.contains("connected") },
            "\(child.stdout)\(child.stderr)")
        #expect(child.stdout.contains("\u{1B}[?1049h"))  // alternate screen
        #expect(child.stdout.contains(String(repeating: "─", count: 100)))  // the full width, not 70
        #expect(!child.stdout.contains(String(repeating: "─", count: 101)))
        #expect(try await child.waitForStdout { $0.contains("dash-before@attack.test") })
        try await failLogins(port: port, emails: ["dash-live@attack.test"])
        #expect(try await child.waitForStdout { $0.contains("dash-live@attack.test") })
        child.write("q")
        #expect(try await child.waitForExit(limit: .seconds(30)) == 0)
        #expect(child.stdout.contains("\u{1B}[?1049l"))  // back to the normal screen
        _ = try await server.stop()
    }

    @Test("--metrics-interval prints metrics snapshots (sequence 0), which never move the state file")
    func metricsSnapshots() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess(database: directory.appendingPathComponent("classy.sqlite").path)
        try await failLogins(port: server.port, emails: ["metrics@attack.test"])
        let stateFile = directory.appendingPathComponent("monitor.state").path
        let child = try Child(
            try monitor,
            ["--json", "--types", "security_metrics", "--metrics-interval", "1", "--state-file", stateFile]
                + adminArguments(server.port)
        )
        child.write(ServerProcess.adminPassword + "\n")
        #expect(try await child.waitForStdout { jsonLines($0).count >= 2 }, "\(child.stderr)")
        child.send(SIGTERM)
        #expect(try await child.waitForExit() == 0)
        _ = try await server.stop()
        let lines = jsonLines(child.stdout)
        #expect(
            lines.allSatisfy {
                $0["type"] as? String == "security_metrics" && ($0["sequence"] as? NSNumber)?.intValue == 0
            })
        let data = try #require(lines.first?["data"] as? [String: Any])
        #expect((data["failed_logins"] as? NSNumber)?.intValue == 1)
        #expect((data["failures_per_minute"] as? [Any])?.isEmpty == false)
        #expect(!FileManager.default.fileExists(atPath: stateFile))
    }

    @Test("TLS with --ca-cert, and mTLS with --client-cert/--client-key")
    func tls() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let file = certificates.path
        let server = try await ServerProcess(
            database: file("classy.sqlite"),
            environment: [
                "CLASSY_TLS_CERT": file("server.pem"), "CLASSY_TLS_KEY": file("server.key"),
                "CLASSY_TLS_CLIENT_CA": file("ca.pem"),
            ]
        )
        let password = ServerProcess.adminPassword + "\n"
        let mTLS = [
            "--ca-cert", file("ca.pem"), "--client-cert", file("client.pem"), "--client-key", file("client.key"),
        ]

        let metrics = try await run(["metrics", "--json"] + mTLS + adminArguments(server.port), stdin: password)
        #expect(metrics.status == 0, "\(metrics.stderr)")
        #expect(jsonLines(metrics.stdout).first?["window_seconds"] != nil)

        let watcher = try Child(try monitor, ["--json", "--since", "0"] + mTLS + adminArguments(server.port))
        watcher.write(password)
        #expect(try await watcher.waitForStdout { $0.contains(ServerProcess.adminEmail) }, "\(watcher.stderr)")
        watcher.send(SIGTERM)
        #expect(try await watcher.waitForExit() == 0)

        // No client certificate, or no TLS at all: the server cannot be spoken to.
        let noClientCertificate = try await run(
            ["metrics", "--ca-cert", file("ca.pem"), "--timeout", "3"] + adminArguments(server.port), stdin: password
        )
        #expect(noClientCertificate.status == 5)
        let untrusted = try await run(
            [
                "metrics", "--ca-cert", file("client.pem"), "--client-cert", file("client.pem"), "--client-key",
                file("client.key"), "--timeout", "3",
            ] + adminArguments(server.port),
            stdin: password
        )
        #expect(untrusted.status == 5)  // the server's certificate does not chain to that "CA"
        let plaintext = try await run(["metrics", "--timeout", "3"] + adminArguments(server.port), stdin: password)
        #expect(plaintext.status == 5)
        let missingKey = try await run(["metrics", "--client-cert", file("client.pem")] + adminArguments(server.port))
        #expect(missingKey.status == 2)
        _ = try await server.stop()
    }

    @Test("--dashboard without a terminal prints event lines instead")
    func dashboardWithoutTTY() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ServerProcess(database: directory.appendingPathComponent("classy.sqlite").path)
        let port = server.port
        try await failLogins(port: port, emails: ["piped@attack.test"])
        let child = try Child(try monitor, ["--dashboard", "--json", "--since", "0"] + adminArguments(port))
        child.write(ServerProcess.adminPassword + "\n")
        #expect(try await child.waitForStdout { $0.contains("piped@attack.test") })
        child.send(SIGTERM)
        #expect(try await child.waitForExit() == 0)
        #expect(child.stderr.contains("not a terminal"))
        #expect(!child.stdout.contains("\u{1B}[?1049h"))
        _ = try await server.stop()
    }
}
