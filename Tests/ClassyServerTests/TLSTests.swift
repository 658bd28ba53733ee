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
    @Test("TLS: a client trusting the CA reaches the server; a plaintext client does not")
    func tls() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        try await withTestServer(
            configure: {
                $0.tls = .init(certificatePath: certs.path("server.pem"), privateKeyPath: certs.path("server.key"))
            },
            clientSecurity: .tls { $0.trustRoots = .certificates([.file(path: certs.path("ca.pem"), format: .pem)]) },
            clientHost: "localhost"
        ) { server async throws in
            #expect(try await server.health.check(.init()).status == .serving)
            _ = try await withGRPCClient(
                transport: try .http2NIOPosix(
                    target: .ipv4(address: "127.0.0.1", port: server.port), transportSecurity: .plaintext)
            ) { plain async throws in
                await #expect(throws: RPCError.self) {
                    _ = try await Grpc_Health_V1_Health.Client(wrapping: plain).check(.init())
                }
            }
        }
    }

    @Test("mTLS: a client certificate signed by the CA is required")
    func mutualTLS() async throws {
        let certs = try TestCertificates()
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
            _ = try await withGRPCClient(
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
