import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The server has no metrics endpoint: start it with `configure: { $0.metricsPort = 0 }`.
public struct MetricsEndpointMissing: Error, CustomStringConvertible {
    public var description: String { "start the test server with metricsPort = 0 to count RPCs" }
}

extension TestServer {
    /// How many RPCs of `method` (e.g. `classy.auth.v1.AuthService/Refresh`) the server has finished, with
    /// any status code, read from its own Prometheus counters (a server-side count, not the client's).
    ///
    /// A finished RPC is counted before its trailers are sent, so every call the client has seen end is in it.
    public func finishedRPCs(_ method: String) async throws -> Int {
        guard let endpoint = runtime.metricsEndpoint, let port = try await endpoint.listeningAddress.port else {
            throw MetricsEndpointMissing()
        }
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        let prefix = "classy_rpc_requests_total{method=\"\(method)\","
        return String(decoding: data, as: UTF8.self).split(separator: "\n").reduce(0) { total, line in
            guard line.hasPrefix(prefix), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else {
                return total
            }
            return total + Int(value)
        }
    }
}
