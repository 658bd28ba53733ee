import ClassyAPI
import ClassyCore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

/// The nginx example of `deploy/nginx` balancing gRPC across two replicas on one PostgreSQL database.
@Suite(
    "nginx load balancer",
    .enabled(if: PostgresTestServer.isAvailable, "\(PostgresTestServer.skipReason)"),
    .enabled(if: NginxTestServer.isAvailable, "\(NginxTestServer.skipReason)"),
    .serialized
)
struct LoadBalancerTests {
    @Test("login, GetMe on both replicas, refresh and logout through nginx")
    func flowsThroughNginx() async throws {
        try await PostgresTestServer.withServer { postgres in
            let url = try await postgres.createDatabase(named: "balanced")
            let metricsA = try FreePort.find()
            let metricsB = try FreePort.find()
            try await ClassyServerProcess.with(
                arguments: ReplicaTests.arguments(url: url, extra: ["--metrics-port", "\(metricsA)"])
            ) { a in
                try await ClassyServerProcess.with(
                    arguments: ReplicaTests.arguments(url: url, extra: ["--metrics-port", "\(metricsB)"])
                ) { b in
                    try await NginxTestServer.with(upstreams: [a.port, b.port]) { nginx in
                        try await withReplicaClient(nginx.port) { client in
                            try await Self.checkFlows(client: client, metricsPorts: [metricsA, metricsB])
                        }
                    }
                }
            }
        }
    }

    static func checkFlows(client: ReplicaClient, metricsPorts: [Int]) async throws {
        #expect(try await client.health.check(.init()).status == .serving)
        let email = "balanced-\(UUID().uuidString.prefix(8).lowercased())@lb.test"
        _ = try await client.auth.register(
            .with {
                $0.email = email
                $0.password = "a balanced password"
                $0.firstName = "Bal"
                $0.lastName = "Anced"
            })
        let login = try await client.auth.login(
            .with {
                $0.email = email
                $0.password = "a balanced password"
            })
        let token = login.tokens.accessToken

        let before = try metricsPorts.map { try getMeCount(metricsPort: $0) }
        for _ in 0..<10 {
            #expect(try await client.users.getMe(.init(), metadata: .bearer(token)).user.email == email)
        }
        let after = try metricsPorts.map { try getMeCount(metricsPort: $0) }
        let served = zip(after, before).map { $0 - $1 }
        print("GetMe calls served per replica through nginx: \(served)")
        #expect(served.reduce(0, +) == 10)
        #expect(served.allSatisfy { $0 > 0 }, "nginx should spread GetMe over both replicas: \(served)")

        // Refresh through the balancer (rotation is shared state: the old token's grace replay works on either).
        let refreshed = try await client.auth.refresh(.with { $0.refreshToken = login.tokens.refreshToken })
        #expect(refreshed.tokens.refreshToken != login.tokens.refreshToken)
        let newToken = refreshed.tokens.accessToken
        #expect(try await client.users.getMe(.init(), metadata: .bearer(newToken)).user.email == email)

        // Logout through the balancer: whichever replica the next calls reach, the session is gone.
        _ = try await client.auth.logout(.with { $0.scope = .current }, metadata: .bearer(newToken))
        for _ in 0..<4 {
            await expectRPCError(.unauthenticated, .sessionRevoked) {
                _ = try await client.users.getMe(.init(), metadata: .bearer(newToken))
            }
        }
    }

    /// Sums `classy_rpc_requests_total` for GetMe on one replica's Prometheus endpoint.
    static func getMeCount(metricsPort: Int) throws -> Int {
        let text = try httpGet(port: metricsPort, path: "/metrics")
        var total = 0
        for line in text.split(separator: "\n")
        where line.hasPrefix("classy_rpc_requests_total") && line.contains("GetMe") {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { total += Int(value) }
        }
        return total
    }

    /// A minimal HTTP/1.0 GET on 127.0.0.1 (the body only).
    static func httpGet(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupErrorText("socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw TestSetupErrorText("cannot connect to metrics port \(port)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return text }
        return String(text[split.upperBound...])
    }
}

struct TestSetupErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// nginx started from `deploy/nginx/classy-test.conf.template` in the foreground, every path in a temp dir.
final class NginxTestServer: Sendable {
    static let binary = "/usr/sbin/nginx"
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: binary) }
    static var skipReason: String {
        isAvailable ? "nginx is available" : "nginx tests skipped: \(binary) not found (apt-get install nginx)"
    }

    /// The template, found from this source file (Tests/ClassyStorePostgresTests/ -> repository root).
    static var template: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/nginx/classy-test.conf.template")
    }

    let port: Int
    let child: ChildProcess
    let prefix: URL

    private init(port: Int, child: ChildProcess, prefix: URL) {
        self.port = port
        self.child = child
        self.prefix = prefix
    }

    /// Starts nginx balancing over `upstreams`, runs `body`, stops nginx and removes its directory.
    static func with<T>(upstreams: [Int], _ body: (NginxTestServer) async throws -> T) async throws -> T {
        let prefix = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("classy-nginx-\(UUID().uuidString.prefix(8).lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: prefix, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: prefix) }
        let port = try FreePort.find()
        var config = try String(contentsOf: template, encoding: .utf8)
        config = config.replacingOccurrences(of: "{{PREFIX}}", with: prefix.path)
            .replacingOccurrences(of: "{{LISTEN_PORT}}", with: "\(port)")
            .replacingOccurrences(
                of: "{{UPSTREAM_SERVERS}}",
                with: upstreams.map { "        server 127.0.0.1:\($0) max_fails=1 fail_timeout=10s;" }
                    .joined(separator: "\n")
            )
            // Run as root, the workers would switch to `nobody`; keep them as the user running the test.
            .replacingOccurrences(of: "{{USER}}", with: getuid() == 0 ? "user root root;" : "")
        let configFile = prefix.appendingPathComponent("nginx.conf")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            binary,
            [
                "-c", configFile.path, "-p", prefix.path, "-e", prefix.appendingPathComponent("error.log").path,
                "-g", "daemon off;",
            ]
        )
        let server = NginxTestServer(port: port, child: child, prefix: prefix)
        do {
            try await server.waitUntilListening()
            let result = try await body(server)
            await child.stop(signal: SIGQUIT)
            return result
        } catch {
            await child.stop(signal: SIGQUIT)
            let log = (try? String(contentsOf: prefix.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
            throw ProcessFailureText("\(error)\n--- nginx ---\n\(child.output)\n\(log.suffix(3000))")
        }
    }

    /// Polls the port until nginx accepts connections (at most 20 s).
    private func waitUntilListening() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            guard child.isRunning else { throw TestSetupErrorText("nginx exited: \(child.output)") }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if connected == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupErrorText("nginx did not listen on \(port)")
    }
}

struct ProcessFailureText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
