import ClassyServer
import ClassyTesting
import Foundation
import Testing

@_spi(Testing) @testable import ClassySDK

/// The SDK and the CLI over TLS, with a CA and a server certificate made by openssl for the test.
@Suite("SDK and CLI over TLS")
struct SDKTLSTests {
    /// Makes `ca.pem`, `server.pem` and `server.key` (SAN localhost and 127.0.0.1) in `directory`.
    static func makeCertificates(in directory: URL) async throws {
        let script = """
            set -e
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
              -subj /CN=classy-sdk-test-ca -keyout ca.key -out ca.pem 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=server \
              -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
              -extfile server.ext -out server.pem 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = directory
        let exited = Gate()
        process.terminationHandler = { _ in exited.open() }
        try process.run()
        try await withTimeout(60) { await exited.wait() }
        try #require(process.terminationStatus == 0, "openssl failed")
    }

    @Test("the SDK trusts a CA file; the CLI logs in with --ca-cert and the profile keeps TLS for later commands")
    func tls() async throws {
        try await withTemporaryDirectory { directory in
            try await Self.makeCertificates(in: directory)
            let ca = directory.appendingPathComponent("ca.pem").path
            try await withTestServer(
                configure: {
                    $0.tls = .init(
                        certificatePath: directory.appendingPathComponent("server.pem").path,
                        privateKeyPath: directory.appendingPathComponent("server.key").path
                    )
                },
                clientSecurity: .tls { $0.trustRoots = .certificates([.file(path: ca, format: .pem)]) },
                clientHost: "localhost"
            ) { server async throws in
                let account = try await server.makeAccount()
                var configuration = sdkConfiguration(
                    port: server.port, directory: directory.appendingPathComponent("sdk"))
                configuration.host = "localhost"
                configuration.transportSecurity = .tlsTrusting(caCertificatePath: ca)
                try await withClassyClient(configuration) { client in
                    try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    #expect(try await client.users.me().value.email == account.email)
                }
                // A client that does not trust the CA cannot connect.
                var untrusting = sdkConfiguration(
                    port: server.port, directory: directory.appendingPathComponent("other"))
                untrusting.host = "localhost"
                untrusting.transportSecurity = .tls
                try await withClassyClient(untrusting) { client in
                    await expectClientError("OFFLINE") {
                        try await client.auth.signIn(email: account.email, password: TestServer.userPassword)
                    }
                }

                let config = directory.appendingPathComponent("cli")
                let login = try await CLITests.run(
                    [
                        "login", "--server", "localhost:\(server.port)", "--ca-cert", ca, "--email", account.email,
                        "--password-stdin",
                    ],
                    input: TestServer.userPassword + "\n", config: config
                )
                #expect(login.status == 0, "\(login.stderr)")
                let whoami = try await CLITests.run(["whoami", "--json"], config: config)
                #expect(whoami.status == 0, "\(whoami.stderr)")
                #expect((try whoami.json() as? [String: Any])?["email"] as? String == account.email)
                let missing = try await CLITests.run(["whoami", "--ca-cert", "/nonexistent/ca.pem"], config: config)
                #expect(missing.status == 64)
                #expect(missing.stderr.contains("--ca-cert"))
            }
        }
    }
}
