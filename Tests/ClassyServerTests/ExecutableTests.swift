import ClassyTesting
import Foundation
import Testing

/// Runs the real `classy-server` binary.
@Suite("classy-server executable")
struct ExecutableTests {
    /// The binary built beside the test bundle.
    static var binary: URL? { BuiltBinaries.url("classy-server") }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the binary to completion (at most 60 s, then SIGTERM).
    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Outcome {
        let binary = try #require(Self.binary, "classy-server must be built (swift build)")
        let child = try Spawn.Child(
            binary.path, arguments, environment: ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
        )
        var ended = try await child.waitForExit(timeout: .seconds(60))
        if ended == nil { ended = try await child.stop() }
        return Outcome(status: ended?.status ?? -1, stdout: child.stdout, stderr: child.stderr)
    }

    func expectOneLineFailure(
        _ outcome: Outcome, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(outcome.status == 1, "\(outcome.stderr)", sourceLocation: sourceLocation)
        // Log lines may come first; the error itself is the last line, and only one.
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("error:") }.count == 1, "\(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(lines.last?.hasPrefix("classy-server: error: ") == true, sourceLocation: sourceLocation)
        #expect(outcome.stderr.contains(fragment), "\(outcome.stderr)", sourceLocation: sourceLocation)
    }

    @Test("an unknown database scheme exits 1 with one clear line")
    func unknownScheme() async throws {
        expectOneLineFailure(
            try await run(["--database-url", "mysql://db"]), containing: "unknown database scheme 'mysql'")
    }

    @Test("a malformed postgres URL exits 1 with one clear line")
    func badPostgresURL() async throws {
        expectOneLineFailure(
            try await run(["--database-url", "postgres://127.0.0.1:5432/classy"]),
            containing: "--database-url: missing user name"
        )
        expectOneLineFailure(
            try await run(["--database-url", "postgres://u@db:5432/"]), containing: "missing database name")
    }

    @Test("an unreachable PostgreSQL exits 1 with one clear line, in bounded time")
    func unreachablePostgres() async throws {
        let outcome = try await run([
            "migrate", "--database-url", "postgres://classy@127.0.0.1:1/classy", "--database-connect-timeout-seconds",
            "1", "--database-query-timeout-seconds", "2",
        ])
        expectOneLineFailure(outcome, containing: "PostgreSQL at 127.0.0.1:1 did not answer within")
    }

    @Test("an unreadable certificate exits 1 with one clear line")
    func unreadableCertificate() async throws {
        expectOneLineFailure(
            try await run(
                [], environment: ["CLASSY_TLS_CERT": "/nonexistent/c.pem", "CLASSY_TLS_KEY": "/nonexistent/k.pem"]),
            containing: "cannot read file '/nonexistent/c.pem'"
        )
    }

    @Test("a port in use exits 1 with one clear line")
    func portInUse() async throws {
        try await withTestServer { server async throws in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-exe-\(UUID())")
            defer { try? FileManager.default.removeItem(at: directory) }
            let outcome = try await run([
                "--port", "\(server.port)", "--database-url", "sqlite:\(directory.path)/db.sqlite",
                "--admin-password", "a long admin password",
            ])
            expectOneLineFailure(outcome, containing: "address already in use")
        }
    }

    @Test("serve starts, prints the generated admin password once, and stops cleanly on SIGTERM")
    func sigterm() async throws {
        let binary = try #require(Self.binary)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-exe-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let child = try Spawn.Child(
            binary.path, ["serve", "--port", "0", "--database-url", "sqlite:\(directory.path)/db.sqlite"],
            environment: ["PATH": "/usr/bin:/bin"]
        )
        var text = child.stdout
        let deadline = ContinuousClock.now + .seconds(60)
        while !text.contains("listening on"), ContinuousClock.now < deadline, child.isRunning {
            try await Task.sleep(for: .milliseconds(50))
            text = child.stdout
        }
        #expect(text.contains("generated password"))
        #expect(text.contains("listening on"))
        child.signal(SIGTERM)
        var ended = try await child.waitForExit(timeout: .seconds(20))
        #expect(ended != nil)
        if ended == nil { ended = try await child.stop() }
        #expect(ended == .exited(0))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("db.sqlite").path))
    }

    @Test("migrate, create-admin and rotate-keys work on a database file")
    func adminCommands() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-exe-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = ["--database-url", "sqlite:\(directory.path)/db.sqlite"]
        let migrate = try await run(["migrate"] + database)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let create = try await run(["create-admin", "--email", "Ops@Example.com"] + database)
        #expect(create.status == 0, "\(create.stderr)")
        #expect(create.stdout.contains("created super_admin ops@example.com"))
        let again = try await run(["create-admin", "--email", "ops@example.com"] + database)
        #expect(again.status == 1)
        #expect(again.stderr.contains("already registered"))
        let rotate = try await run(["rotate-keys"] + database)
        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(rotate.stdout.contains("new signing key"))
    }
}
