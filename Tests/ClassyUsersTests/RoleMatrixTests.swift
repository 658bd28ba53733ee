import ClassyAPI
import ClassyCore
import ClassyStore
import ClassyTesting
import Foundation
import GRPCCore
import Testing

/// Every RPC of every service x every kind of caller, generated from ``RPCPolicies/table``.
///
/// Requests are empty: the matrix checks the request path's decision only. A disallowed caller must
/// get PERMISSION_DENIED / FORBIDDEN (UNAUTHENTICATED / TOKEN_INVALID without a token); an allowed one
/// may fail in the handler (INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED...) but never with those.
@Suite("Role matrix over TCP")
struct RoleMatrixTests {
    /// A kind of caller: no token, or a fresh token of one role.
    enum CallerKind: CaseIterable, CustomStringConvertible {
        case anonymous, user, admin, superAdmin, service

        var role: Role? {
            switch self {
            case .anonymous: nil
            case .user: .user
            case .admin: .admin
            case .superAdmin: .superAdmin
            case .service: .service
            }
        }

        var description: String { role?.claim ?? "anonymous" }
    }

    /// Passes message bytes through untouched: an empty message is zero bytes in every proto type.
    struct RawCoder: MessageSerializer, MessageDeserializer {
        func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
        func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
            serializedMessageBytes.withUnsafeBytes { Array($0) }
        }
    }

    /// Calls `method` with one empty message; returns the error the server answered with, if any,
    /// before or instead of accepting the RPC (streams are closed as soon as they are accepted).
    static func call(_ server: TestServer, _ method: MethodDescriptor, token: String?) async throws -> RPCError? {
        let metadata: Metadata = token.map { .bearer($0) } ?? [:]
        do {
            try await server.client.bidirectionalStreaming(
                request: StreamingClientRequest(of: [UInt8].self, metadata: metadata) { writer in
                    try await writer.write([])
                },
                descriptor: method,
                serializer: RawCoder(),
                deserializer: RawCoder(),
                options: .defaults
            ) { response in
                if case .failure(let error) = response.accepted { throw error }
            }
            return nil
        } catch let error as RPCError {
            return error
        }
    }

    @Test("the table covers every RPC of the three services and health")
    func tableIsComplete() {
        let services: [(String, [MethodDescriptor])] = [
            ("auth", Classy_Auth_V1_AuthService.Method.descriptors),
            ("users", Classy_Users_V1_UsersService.Method.descriptors),
            ("monitoring", Classy_Monitoring_V1_MonitoringService.Method.descriptors),
            ("health", Grpc_Health_V1_Health.Method.descriptors),
        ]
        let served = services.flatMap(\.1)
        #expect(Set(served) == Set(RPCPolicies.table.keys))
    }

    @Test("every caller x every RPC: disallowed is refused by the interceptor, allowed gets through")
    func matrix() async throws {
        try await withTestServer { server async throws in
            let methods = RPCPolicies.table.keys.sorted { $0.fullyQualifiedMethod < $1.fullyQualifiedMethod }
            var checked = 0
            for method in methods {
                let policy = try #require(RPCPolicies.policy(for: method))
                for kind in CallerKind.allCases {
                    // A fresh identity per call: an allowed Logout or RevokeSession must not spoil the next one.
                    let token: String?
                    switch kind.role {
                    case nil: token = nil
                    case .service: token = try await server.serviceToken().accessToken
                    case let role?: token = try await server.signIn(role: role).accessToken
                    }
                    let error = try await Self.call(server, method, token: token)
                    let reason = error.flatMap(ClassyError.init)?.code.reason
                    let label = "\(kind) -> \(method.fullyQualifiedMethod): \(error.map { "\($0)" } ?? "OK")"
                    if policy.access.allows(kind.role) {
                        #expect(
                            !(error?.code == .permissionDenied && reason == "FORBIDDEN"),
                            "allowed caller was refused: \(label)"
                        )
                        // Anonymous RPCs may answer TOKEN_INVALID themselves (Refresh with no refresh token).
                        if policy.access.requiresAuthentication {
                            #expect(
                                !(error?.code == .unauthenticated && reason == "TOKEN_INVALID"),
                                "allowed caller was not authenticated: \(label)"
                            )
                        }
                    } else if kind == .anonymous {
                        #expect(error?.code == .unauthenticated && reason == "TOKEN_INVALID", "\(label)")
                    } else {
                        #expect(error?.code == .permissionDenied && reason == "FORBIDDEN", "\(label)")
                    }
                    checked += 1
                }
            }
            #expect(checked == RPCPolicies.table.count * CallerKind.allCases.count)
        }
    }
}
