import Foundation
internal import GRPCCore
internal import GRPCProtobuf

/// An error of a Classy Book call: the server's reason (ErrorInfo), bad fields and when to retry,
/// or a client-side condition (offline, signed out).
public struct ClassyClientError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The gRPC status class of an error.
    public enum Status: String, Sendable, Hashable, Codable {
        case cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists, permissionDenied
        case resourceExhausted, failedPrecondition, aborted, outOfRange, unimplemented, internalError, unavailable
        case dataLoss, unauthenticated
    }

    /// One bad field of a request, named by its proto field name (`email`, `user.first_name`).
    public struct FieldViolation: Sendable, Hashable, Codable {
        public var field: String
        public var description: String

        public init(field: String, description: String) {
            self.field = field
            self.description = description
        }
    }

    /// The gRPC status.
    public var status: Status
    /// The server's `ErrorInfo.reason` (`TOKEN_EXPIRED`, `ETAG_MISMATCH`, ...), or a client reason:
    /// `OFFLINE` (the server cannot be reached), `SIGNED_OUT` (no session), `CONFLICT` (sync conflict).
    public var reason: String
    /// The server's message.
    public var message: String
    /// Bad fields (from `google.rpc.BadRequest`).
    public var fieldViolations: [FieldViolation]
    /// When the call may be retried (from `google.rpc.RetryInfo`).
    public var retryAfter: Duration?
    /// Extra `ErrorInfo.metadata`.
    public var metadata: [String: String]

    public init(
        status: Status, reason: String, message: String, fieldViolations: [FieldViolation] = [],
        retryAfter: Duration? = nil, metadata: [String: String] = [:]
    ) {
        self.status = status
        self.reason = reason
        self.message = message
        self.fieldViolations = fieldViolations
        self.retryAfter = retryAfter
        self.metadata = metadata
    }

    public var description: String {
        var text = "\(reason): \(message)"
        if !fieldViolations.isEmpty {
            text += " (" + fieldViolations.map { "\($0.field): \($0.description)" }.joined(separator: "; ") + ")"
        }
        if let retryAfter { text += " (retry after \(retryAfter))" }
        return text
    }

    /// The server cannot be reached (connection refused, timed out, shutting down).
    public var isOffline: Bool { reason == Reason.offline }

    /// Worth retrying later without changing the request.
    public var isTransient: Bool {
        switch status {
        case .unavailable, .deadlineExceeded: true
        case .resourceExhausted: reason == Reason.rateLimited || reason == Reason.streamOverflow
        case .aborted: reason == Reason.idempotencyInProgress
        default: false
        }
    }

    /// Reasons the SDK acts on (the full list is the server's error table).
    public enum Reason {
        public static let offline = "OFFLINE"
        public static let signedOut = "SIGNED_OUT"
        public static let invalidField = "INVALID_FIELD"
        public static let invalidCredentials = "INVALID_CREDENTIALS"
        public static let tokenInvalid = "TOKEN_INVALID"
        public static let tokenExpired = "TOKEN_EXPIRED"
        public static let sessionRevoked = "SESSION_REVOKED"
        public static let refreshTokenReused = "REFRESH_TOKEN_REUSED"
        public static let forbidden = "FORBIDDEN"
        public static let etagMismatch = "ETAG_MISMATCH"
        public static let notFound = "NOT_FOUND"
        public static let rateLimited = "RATE_LIMITED"
        public static let streamOverflow = "STREAM_OVERFLOW"
        public static let idempotencyInProgress = "IDEMPOTENCY_IN_PROGRESS"
        public static let storeUnavailable = "STORE_UNAVAILABLE"
    }

    /// No session: sign in first.
    static func signedOut(_ message: String = "not signed in") -> ClassyClientError {
        ClassyClientError(status: .unauthenticated, reason: Reason.signedOut, message: message)
    }

    /// A client-side bad argument, reported like the server's INVALID_FIELD.
    static func invalidField(_ field: String, _ description: String) -> ClassyClientError {
        ClassyClientError(
            status: .invalidArgument, reason: Reason.invalidField, message: "invalid \(field): \(description)",
            fieldViolations: [FieldViolation(field: field, description: description)]
        )
    }
}

extension ClassyClientError {
    /// Reads the error of a failed RPC (status, ErrorInfo, BadRequest, RetryInfo).
    init(_ error: RPCError) {
        let status = Status(error.code)
        let googleStatus = try? error.unpackGoogleRPCStatus()
        let info = googleStatus?.details.lazy.compactMap(\.errorInfo).first
        let violations = (googleStatus?.details ?? []).compactMap(\.badRequest).flatMap(\.violations).map {
            FieldViolation(field: $0.field, description: $0.violationDescription)
        }
        let retry = googleStatus?.details.lazy.compactMap(\.retryInfo).first?.delay
        var reason = info?.reason ?? error.code.description.uppercased()
        // Transport failures carry no ErrorInfo: the server was not reached (or went away).
        if info == nil && (error.code == .unavailable || error.code == .deadlineExceeded) {
            reason = Reason.offline
        }
        self.init(
            status: status, reason: reason, message: googleStatus?.message ?? error.message,
            fieldViolations: violations, retryAfter: retry, metadata: info?.metadata ?? [:]
        )
    }

    /// Maps any error thrown by a call to a client error (cancellation passes through untouched).
    static func wrap(_ error: any Error) -> any Error {
        switch error {
        case let error as ClassyClientError: return error
        case let error as RPCError: return ClassyClientError(error)
        case is CancellationError: return error
        default:
            return ClassyClientError(status: .unknown, reason: "CLIENT", message: "\(error)")
        }
    }
}

extension ClassyClientError.Status {
    init(_ code: RPCError.Code) {
        switch code {
        case .cancelled: self = .cancelled
        case .invalidArgument: self = .invalidArgument
        case .deadlineExceeded: self = .deadlineExceeded
        case .notFound: self = .notFound
        case .alreadyExists: self = .alreadyExists
        case .permissionDenied: self = .permissionDenied
        case .resourceExhausted: self = .resourceExhausted
        case .failedPrecondition: self = .failedPrecondition
        case .aborted: self = .aborted
        case .outOfRange: self = .outOfRange
        case .unimplemented: self = .unimplemented
        case .internalError: self = .internalError
        case .unavailable: self = .unavailable
        case .dataLoss: self = .dataLoss
        case .unauthenticated: self = .unauthenticated
        default: self = .unknown
        }
    }
}
