import ClassyAPI
import ClassyMonitorKit
import ClassyTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A child process (posix_spawn, not Foundation's `Process`: see ``Spawn``) with stdin a pipe and stdout and stderr
/// collected as they come; killed when released.
final class Child: Sendable {
    /// The write end of the child's stdin, as `input.fileHandleForWriting` (the shape of Foundation's `Pipe`).
    struct Input: Sendable {
        let fileHandleForWriting: FileHandle
    }

    let process: Spawn.Child
    let input: Input

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        process = try Spawn.Child(
            executable.path, arguments,
            environment: ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()].merging(environment) { _, new in
                new
            },
            input: true
        )
        input = Input(fileHandleForWriting: try #require(process.input))
    }

    var stdout: String { process.stdout }
    var stderr: String { process.stderr }

    /// Writes `text` to its stdin; nothing if it no longer reads (the test's checks of its output tell).
    func write(_ text: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    func send(_ signal: Int32) {
        process.signal(signal)
    }

    /// Waits (at most `limit`) until `condition` holds for the collected stdout; false if it never did.
    func waitForStdout(limit: Duration = .seconds(60), _ condition: (String) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition(stdout) { return true }
            // Output goes to a file, complete once the process has ended.
            if !process.isRunning { return condition(stdout) }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition(stdout)
    }

    /// Waits (at most `limit`) for the process to end; its status (128 + the signal when killed by one), or nil if
    /// it was still running (then killed).
    func waitForExit(limit: Duration = .seconds(60)) async throws -> Int32? {
        if let ended = try await process.waitForExit(timeout: limit) { return ended.status }
        try await process.stop(signal: SIGKILL)
        return nil
    }
}

/// The real `classy-server` on a database file, with the test admin and rate limits off.
final class ServerProcess: Sendable {
    static let adminEmail = "root@classy.test"
    static let adminPassword = "primary-admin-password"

    let child: Child
    let port: Int

    /// Starts the server (port 0: any free port) and waits until it listens.
    init(database: String, port: Int = 0, environment: [String: String] = [:]) async throws {
        let binary = try #require(
            BuiltBinaries.url("classy-server"), "classy-server must be built (swift build --build-tests)")
        child = try Child(
            binary,
            ["serve", "--host", "127.0.0.1", "--port", "\(port)", "--database-url", "sqlite:\(database)"],
            environment: [
                "CLASSY_ADMIN_EMAIL": Self.adminEmail, "CLASSY_ADMIN_PASSWORD": Self.adminPassword,
                "CLASSY_RATE_LIMIT": "off", "CLASSY_LOG_LEVEL": "error",
            ].merging(environment) { _, new in new }
        )
        let listening = try await child.waitForStdout(limit: .seconds(60)) { $0.contains("listening on 127.0.0.1:") }
        try #require(listening, "classy-server did not start: \(child.stderr)")
        let line = try #require(child.stdout.split(separator: "\n").first { $0.contains("listening on 127.0.0.1:") })
        self.port = try #require(Int(line.split(separator: ":").last ?? ""))
    }

    /// Kills the server without a chance to clean up (a crash).
    func crash() async throws {
        child.send(SIGKILL)
        _ = try await child.waitForExit(limit: .seconds(20))
    }

    func stop() async throws -> Int32? {
        child.send(SIGTERM)
        return try await child.waitForExit(limit: .seconds(30))
    }
}

/// Runs `body` with generated clients connected to 127.0.0.1:`port`.
func withClients<Result: Sendable>(
    port: Int,
    _ body: (Classy_Auth_V1_AuthService.Client<HTTP2ClientTransport.Posix>, GRPCClient<HTTP2ClientTransport.Posix>)
        async throws -> Result
) async throws -> Result {
    try await withGRPCClient(
        transport: try .http2NIOPosix(target: .dns(host: "127.0.0.1", port: port), transportSecurity: .plaintext)
    ) { client in
        try await body(Classy_Auth_V1_AuthService.Client(wrapping: client), client)
    }
}

/// Makes failed logins, one per e-mail (so no e-mail gets locked).
func failLogins(port: Int, emails: [String]) async throws {
    try await withClients(port: port) { auth, _ in
        for email in emails {
            do {
                _ = try await auth.login(
                    .with {
                        $0.email = email
                        $0.password = "definitely the wrong password"
                    })
                Issue.record("login of \(email) should fail")
            } catch let error as RPCError {
                #expect(error.code == .unauthenticated)
            }
        }
    }
}

/// The admin's access token.
func adminToken(port: Int) async throws -> String {
    try await withClients(port: port) { auth, _ in
        try await auth.login(
            .with {
                $0.email = ServerProcess.adminEmail
                $0.password = ServerProcess.adminPassword
            }
        ).tokens.accessToken
    }
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("classy-monitor-e2e-\(UUID())")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The JSON objects of JSON Lines output.
func jsonLines(_ text: String) -> [[String: Any]] {
    text.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

/// Sequence and e-mail of each login attempt line.
func loginAttempts(_ text: String) -> [(sequence: UInt64, email: String)] {
    jsonLines(text).compactMap { object in
        guard object["type"] as? String == "login_attempt", let data = object["data"] as? [String: Any],
            let sequence = (object["sequence"] as? NSNumber)?.uint64Value, let email = data["email"] as? String
        else { return nil }
        return (sequence, email)
    }
}

/// The sequence of every persisted event line.
func sequences(_ text: String) -> [UInt64] {
    jsonLines(text).compactMap { ($0["sequence"] as? NSNumber)?.uint64Value }.filter { $0 > 0 }
}
