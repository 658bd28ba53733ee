import ClassyAPI
import ClassyTesting
import Foundation
import GRPCCore
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("Prometheus metrics endpoint")
struct MetricsEndpointTests {
    @Test("GET /metrics counts RPCs by method and status code; other paths are 404")
    func metrics() async throws {
        try await withTestServer(configure: { $0.metricsPort = 0 }) { server async throws in
            _ = try await server.health.check(.init())
            _ = try? await server.users.getMe(.init())
            let endpoint = try #require(server.runtime.metricsEndpoint)
            let port = try #require(try await endpoint.listeningAddress.port)
            let (data, response) = try await URLSession.shared.data(
                from: URL(string: "http://127.0.0.1:\(port)/metrics")!
            )
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let text = String(decoding: data, as: UTF8.self)
            #expect(
                text.contains(#"classy_rpc_requests_total{method="grpc.health.v1.Health/Check",code="ok"}"#), "\(text)")
            #expect(text.contains(#"method="classy.users.v1.UsersService/GetMe",code="unauthenticated""#), "\(text)")
            #expect(text.contains("classy_rpc_duration_seconds_bucket"))
            let (_, missing) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/other")!)
            #expect((missing as? HTTPURLResponse)?.statusCode == 404)
        }
    }
}
