import ClassyServer
import ClassyTesting
import Foundation
import Testing

@_spi(Testing) @testable import ClassySDK

/// The SDK and the CLI over TLS, with a CA and a server certificate made by openssl for the test.
@Suite("SDK and CLI over TLS")
struct SDKTLSTests {
    @Test("the SDK trusts a CA file; the CLI logs in with --ca-cert and the profile keeps TLS for later commands")
    func tls() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        try await withTemporaryDirectory { directory in
            let ca = certificates.path("ca.pem")
            try await withTestServer(
                configure: {
                    $0.tls = .init(
                        certificatePath: certificates.path("server.pem"),
                        privateKeyPath: certificates.path("server.key")
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
