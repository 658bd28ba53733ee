import ClassyCore
import GRPCCore
import GRPCProtobuf
import Testing

@Suite("ClassyError")
struct ClassyErrorTests {
    @Test("every reason maps to the status code of API.md's table")
    func statusCodes() {
        let expected: [ClassyError.Code: RPCError.Code] = [
            .invalidField: .invalidArgument, .invalidCredentials: .unauthenticated,
            .accountDisabled: .permissionDenied, .tokenInvalid: .unauthenticated, .tokenExpired: .unauthenticated,
            .sessionRevoked: .unauthenticated, .refreshTokenReused: .unauthenticated, .forbidden: .permissionDenied,
            .ipBlocked: .permissionDenied, .accountLocked: .resourceExhausted, .rateLimited: .resourceExhausted,
            .emailTaken: .alreadyExists, .etagMismatch: .aborted, .notFound: .notFound,
            .storeUnavailable: .unavailable,
        ]
        for (code, status) in expected {
            #expect(code.status == status, "\(code.reason)")
        }
    }

    @Test("details carry ErrorInfo, BadRequest and RetryInfo and survive a round trip")
    func roundTrip() throws {
        let error = ClassyError(
            .invalidField, "bad",
            fieldViolations: [.init(field: "user.first_name", description: "too long")],
            retryAfter: .seconds(3),
            metadata: ["k": "v"]
        )
        let rpcError = RPCError(error)
        #expect(rpcError.code == .invalidArgument)
        let status = try #require(try rpcError.unpackGoogleRPCStatus())
        let info = try #require(status.details.compactMap(\.errorInfo).first)
        #expect(info.reason == "INVALID_FIELD")
        #expect(info.domain == "classy")
        #expect(info.metadata == ["k": "v"])
        #expect(status.details.compactMap(\.badRequest).first?.violations.first?.field == "user.first_name")
        #expect(status.details.compactMap(\.retryInfo).first?.delay == .seconds(3))
        let decoded = try #require(ClassyError(rpcError))
        #expect(decoded == error)
    }

    @Test("no RetryInfo or BadRequest unless given")
    func minimalDetails() throws {
        let status = try #require(try RPCError(ClassyError(.notFound, "gone")).unpackGoogleRPCStatus())
        #expect(status.details.count == 1)
    }
}
