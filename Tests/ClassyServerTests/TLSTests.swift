import ClassyAPI
import ClassyServer
import ClassyTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// TLS and mTLS end to end, with certificates made by openssl for the test.
@Suite("TLS")
struct TLSTests {
    /// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, in a temp folder.
    struct Certificates {
        let directory: URL
        var path: (String) -> String { { directory.appendingPathComponent($0).path } }

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-tls-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let script = """
                set -e
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                  -subj /CN=classy-test-ca -keyout ca.key -out ca.pem 2>/dev/null
                for who in server client; do
                  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=$who \
                    -keyout $who.key -out $who.csr 2>/dev/null
                  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > $who.ext
                  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                    -extfile $who.ext -out $who.pem 2>/dev/null
                done
                """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", script]
            process.currentDirectoryURL = directory
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw RPCError(code: .internalError, message: "openssl failed")
            }
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test("TLS: a client trusting the CA reaches the server; a plaintext client does not")
    func tls() async throws {
        let certs = try Certificates()
        defer { certs.remove() }
        try await withTestServer(
            configure: { $0.tls = .init(certificatePath: certs.path("server.pem"), privateKeyPath: certs.path("server.key")) },
            clientSecurity: .tls { $0.trustRoots = .certificates([.file(path: certs.path("ca.pem"), format: .pem)]) },
            clientHost: "localhost"
        ) { server async throws in
            #expect(try await server.health.check(.init()).status == .serving)
            try await withGRPCClient(
                transport: try .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: server.port), transportSecurity: .plaintext)
            ) { plain async throws in
                await #expect(throws: RPCError.self) {
                    _ = try await Grpc_Health_V1_Health.Client(wrapping: plain).check(.init())
                }
            }
        }
    }

    @Test("mTLS: a client certificate signed by the CA is required")
    func mutualTLS() async throws {
        let certs = try Certificates()
        defer { certs.remove() }
        let trust: TLSConfig.TrustRootsSource = .certificates([.file(path: certs.path("ca.pem"), format: .pem)])
        try await withTestServer(
            configure: {
                $0.tls = .init(
                    certificatePath: certs.path("server.pem"), privateKeyPath: certs.path("server.key"),
                    clientCAPath: certs.path("ca.pem")
                )
            },
            clientSecurity: .mTLS(
                certificateChain: [.file(path: certs.path("client.pem"), format: .pem)],
                privateKey: .file(path: certs.path("client.key"), format: .pem)
            ) { $0.trustRoots = trust },
            clientHost: "localhost"
        ) { server async throws in
            #expect(try await server.health.check(.init()).status == .serving)
            try await withGRPCClient(
                transport: try .http2NIOPosix(
                    target: .dns(host: "localhost", port: server.port),
                    transportSecurity: .tls { $0.trustRoots = trust }
                )
            ) { anonymous async throws in
                await #expect(throws: RPCError.self) {
                    _ = try await Grpc_Health_V1_Health.Client(wrapping: anonymous).check(.init())
                }
            }
        }
    }
}
