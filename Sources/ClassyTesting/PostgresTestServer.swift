import Foundation
import Synchronization

/// A throwaway PostgreSQL 15 server for tests: a fresh cluster in a temporary directory, listening on
/// 127.0.0.1 on a free port (its unix socket inside the directory), run as the `postgres` user (initdb refuses
/// root), trust authentication.
///
/// ```swift
/// @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
/// func something() async throws {
///     try await PostgresTestServer.withServer { postgres in
///         let url = try await postgres.createDatabase()       // postgres://postgres@127.0.0.1:PORT/db_…
///     }
/// }
/// ```
///
/// The async methods run the PostgreSQL tools on a thread of their own: initdb and pg_ctl take seconds, and waiting
/// for them on a cooperative thread would stall every other test of the process (there are as many cooperative
/// threads as cores).
///
/// Every server also starts a small watchdog shell that stops it and deletes its directory if the test
/// process dies, so a crashed test run leaves no PostgreSQL behind.
public final class PostgresTestServer: Sendable {
    /// Where Debian's PostgreSQL 15 binaries live.
    public static let binDirectory =
        ProcessInfo.processInfo.environment["CLASSY_TEST_PGBIN"]
        ?? "/usr/lib/postgresql/15/bin"

    /// Whether PostgreSQL tests can run here: the binaries exist and we can run them as `postgres`.
    public static var isAvailable: Bool { unavailableReason == nil }

    /// Why PostgreSQL tests are skipped, or nil when they can run.
    public static let unavailableReason: String? = {
        let fm = FileManager.default
        for tool in ["initdb", "pg_ctl", "psql"] where !fm.isExecutableFile(atPath: "\(binDirectory)/\(tool)") {
            return "PostgreSQL tests skipped: \(binDirectory)/\(tool) not found (apt-get install postgresql)"
        }
        if getuid() == 0, !fm.isExecutableFile(atPath: "/usr/sbin/runuser") {
            return "PostgreSQL tests skipped: running as root without /usr/sbin/runuser to switch to postgres"
        }
        if getuid() == 0, getpwnam("postgres") == nil {
            return "PostgreSQL tests skipped: no 'postgres' system user"
        }
        return nil
    }()

    /// The skip comment for `.enabled(if:)` traits.
    public static var skipReason: String { unavailableReason ?? "PostgreSQL is available" }

    /// One server shared by the tests of a process, started on first use (each test makes its own database);
    /// its watchdog removes it when the process ends.
    public static func shared() async throws -> PostgresTestServer {
        try await sharedServer.value
    }

    private static let sharedServer = Task { try await offThePool { try start() } }

    /// The temporary directory holding the cluster, its log and its socket.
    public let directory: URL
    /// The TCP port on 127.0.0.1.
    public let port: Int
    private let watchdog: Mutex<pid_t?> = Mutex(nil)
    private let databaseCounter = Atomic<Int>(0)

    private var dataDirectory: String { directory.appendingPathComponent("data").path }
    private var logFile: String { directory.appendingPathComponent("postgres.log").path }

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
    }

    /// Creates and starts a fresh cluster; call ``destroy()`` when done (``withServer(_:)`` does).
    public static func start() throws -> PostgresTestServer {
        if let unavailableReason { throw TestSetupError(unavailableReason) }
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent(
            "classy-pg-\(UUID().uuidString.prefix(8).lowercased())", isDirectory: true
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = PostgresTestServer(directory: directory, port: try FreePort.find())
        do {
            try server.run("chown", ["postgres:postgres", directory.path], asPostgres: false)
            try server.run(
                "\(binDirectory)/initdb",
                ["-D", server.dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "-N"]
            )
            server.startWatchdog()
            try server.startPostgres()
        } catch {
            server.destroy()
            throw error
        }
        return server
    }

    /// Runs `body` with a fresh server and destroys it afterwards, also when `body` throws.
    public static func withServer<T>(_ body: (PostgresTestServer) async throws -> T) async throws -> T {
        let server = try await offThePool { try start() }
        do {
            let result = try await body(server)
            try? await offThePool { server.destroy() }  // destroy() does not throw
            return result
        } catch {
            try? await offThePool { server.destroy() }
            throw error
        }
    }

    /// Runs `body` on a thread of its own and returns its result: for the blocking PostgreSQL tools.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// A connection URL for `database`.
    public func url(database: String) -> String {
        "postgres://postgres@127.0.0.1:\(port)/\(database)"
    }

    /// Creates an empty database and returns its URL.
    @discardableResult
    public func createDatabase(named name: String? = nil) async throws -> String {
        let name =
            name
            ?? "db_\(databaseCounter.add(1, ordering: .relaxed).newValue)_\(UUID().uuidString.prefix(6).lowercased())"
        try await psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Runs one SQL command with psql against the `postgres` database.
    public func psql(_ sql: String, database: String = "postgres") async throws {
        try await Self.offThePool { try self.runPsql(sql, database: database) }
    }

    private func runPsql(_ sql: String, database: String) throws {
        try run(
            "\(Self.binDirectory)/psql",
            [
                "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qc",
                sql,
            ],
            asPostgres: false
        )
    }

    /// Stops PostgreSQL (fast shutdown: open connections are closed); the data stays for ``restart()``.
    public func stop() async throws {
        try await Self.offThePool {
            try self.run(
                "\(Self.binDirectory)/pg_ctl", ["-D", self.dataDirectory, "-m", "fast", "-w", "-t", "30", "stop"])
        }
    }

    /// Starts PostgreSQL again on the same port with the same data.
    public func restart() async throws {
        try await Self.offThePool { try self.startPostgres() }
    }

    /// Stops PostgreSQL (if running) and deletes the directory.
    public func destroy() {
        _ = try? run(
            "\(Self.binDirectory)/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"]
        )
        watchdog.withLock { pid in
            if let watchdogPID = pid {
                kill(watchdogPID, SIGTERM)
                _ = Spawn.wait(watchdogPID)
            }
            pid = nil
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private func startPostgres() throws {
        let options = [
            "-p \(port)", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=\(directory.path)",
            "-c max_connections=400", "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
            "-c shared_buffers=32MB",
        ].joined(separator: " ")
        try run(
            "\(Self.binDirectory)/pg_ctl",
            ["-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", options, "start"]
        )
    }

    /// A shell that waits for this test process to end, then stops the server and removes its directory.
    private func startWatchdog() {
        let stop = Self.asPostgresCommand(
            "\(Self.binDirectory)/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "stop"]
        )
        .map { "'\($0)'" }.joined(separator: " ")
        let script =
            "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stop) >/dev/null 2>&1; rm -rf '\(directory.path)'"
        if let pid = try? Spawn.start(
            ["/bin/sh", "-c", script], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], outputPath: "/dev/null",
            directory: nil
        ) {
            watchdog.withLock { $0 = pid }
        }
    }

    private static func asPostgresCommand(_ tool: String, _ arguments: [String]) -> [String] {
        getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments : [tool] + arguments
    }

    /// Runs a command to completion, as `postgres` when we are root; throws with its output if it fails.
    private func run(_ tool: String, _ arguments: [String], asPostgres: Bool = true) throws {
        let command = asPostgres ? Self.asPostgresCommand(tool, arguments) : [tool] + arguments
        try Spawn.run(
            command.first == "chown" ? ["/bin/chown"] + command.dropFirst() : command, directory: directory.path)
    }
}

/// Setting up a test fixture (a throwaway PostgreSQL, a child process, certificates) failed.
public struct TestSetupError: Error, CustomStringConvertible {
    /// What failed.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Finds free loopback ports.
public enum FreePort {
    /// Ports this process handed out already.
    private static let handedOut = Mutex<Set<Int>>([])

    /// Returns a TCP port on 127.0.0.1 that is free now and stays free of the kernel's own choices, for a server
    /// that a test starts (or restarts) on a fixed port.
    ///
    /// The port is outside the ephemeral range (`net.ipv4.ip_local_port_range`), from which the kernel picks the
    /// local port of every outgoing connection and of every listener bound to port 0: a port from that range,
    /// free a moment ago, can be taken by any test's client connection before the server binds it again. Within
    /// this process no port is handed out twice.
    public static func find() throws -> Int {
        let low = ephemeralRangeStart()
        let candidates = 10_000..<max(10_001, low)
        for _ in 0..<200 {
            let port = Int.random(in: candidates)
            let fresh = handedOut.withLock { $0.insert(port).inserted }
            if fresh, try isFree(port) { return port }
        }
        throw TestSetupError("no free TCP port below \(low)")
    }

    /// The first port of the kernel's ephemeral range (32768 when it cannot be read).
    static func ephemeralRangeStart() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
            let first = text.split(whereSeparator: \.isWhitespace).first, let start = Int(first)
        else { return 32768 }
        return start
    }

    /// Whether a listener could bind `port` on 127.0.0.1 now.
    static func isFree(_ port: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed: \(errno)") }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return bound == 0
    }
}
