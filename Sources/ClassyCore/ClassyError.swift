import Foundation
import GRPCCore
import GRPCProtobuf

/// A domain error of Classy Book: a reason of API.md's error table, a message and details.
///
/// Handlers throw these; because the type is `RPCErrorConvertible`, clients receive the status
/// code of the table and a `google.rpc.Status` in `grpc-status-details-bin` with
/// `ErrorInfo{reason, domain: "classy"}`, plus `BadRequest` and `RetryInfo` where they apply.
public struct ClassyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `ErrorInfo.domain` of every Classy Book error.
    public static let domain = "classy"

    /// The `ErrorInfo.reason` of an error; each maps to one status code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The `ErrorInfo.reason` string.
        public let reason: String
        /// The gRPC status code it maps to.
        public let status: RPCError.Code

        private init(_ reason: String, _ status: RPCError.Code) {
            self.reason = reason
            self.status = status
        }

        public var description: String { reason }

        /// A malformed or invalid field (with BadRequest field violations).
        public static let invalidField = Code("INVALID_FIELD", .invalidArgument)
        /// Wrong email or password, unknown email, or wrong current password.
        public static let invalidCredentials = Code("INVALID_CREDENTIALS", .unauthenticated)
        /// Right password, but the account is deactivated.
        public static let accountDisabled = Code("ACCOUNT_DISABLED", .permissionDenied)
        /// No, malformed or badly signed token.
        public static let tokenInvalid = Code("TOKEN_INVALID", .unauthenticated)
        /// Expired access token.
        public static let tokenExpired = Code("TOKEN_EXPIRED", .unauthenticated)
        /// The session was revoked or the user deactivated.
        public static let sessionRevoked = Code("SESSION_REVOKED", .unauthenticated)
        /// A rotated refresh token was reused after its grace window.
        public static let refreshTokenReused = Code("REFRESH_TOKEN_REUSED", .unauthenticated)
        /// The caller's role is too low, or the action targets the primary admin.
        public static let forbidden = Code("FORBIDDEN", .permissionDenied)
        /// The caller's IP is blocked.
        public static let ipBlocked = Code("IP_BLOCKED", .permissionDenied)
        /// Too many failed logins for the email.
        public static let accountLocked = Code("ACCOUNT_LOCKED", .resourceExhausted)
        /// A rate limit was hit.
        public static let rateLimited = Code("RATE_LIMITED", .resourceExhausted)
        /// The email is already registered.
        public static let emailTaken = Code("EMAIL_TAKEN", .alreadyExists)
        /// The etag is stale.
        public static let etagMismatch = Code("ETAG_MISMATCH", .aborted)
        /// Not found, soft-deleted, or someone else's.
        public static let notFound = Code("NOT_FOUND", .notFound)
        /// The store cannot be reached.
        public static let storeUnavailable = Code("STORE_UNAVAILABLE", .unavailable)
        /// Registration is closed by configuration.
        public static let registrationClosed = Code("REGISTRATION_CLOSED", .permissionDenied)
        /// The address or range is allow-listed and cannot be blocked.
        public static let ipAllowListed = Code("IP_ALLOW_LISTED", .failedPrecondition)
        /// A request with the same idempotency key is still being processed.
        public static let idempotencyInProgress = Code("IDEMPOTENCY_IN_PROGRESS", .aborted)
        /// The same idempotency key was used for another RPC.
        public static let idempotencyKeyReused = Code("IDEMPOTENCY_KEY_REUSED", .invalidArgument)
        /// The RPC is not implemented by this server yet.
        public static let unimplemented = Code("UNIMPLEMENTED", .unimplemented)
        /// A subscriber could not keep up with its stream.
        public static let streamOverflow = Code("STREAM_OVERFLOW", .resourceExhausted)
        /// An unexpected server-side failure.
        public static let `internal` = Code("INTERNAL", .internalError)
    }

    /// One bad field of a request.
    public struct FieldViolation: Sendable, Hashable {
        /// The proto field name, dotted for nested fields (`user.first_name`).
        public var field: String
        /// What is wrong with it.
        public var description: String

        public init(field: String, description: String) {
            self.field = field
            self.description = description
        }
    }

    /// The reason and status code.
    public var code: Code
    /// A developer-facing message.
    public var message: String
    /// Bad fields (sent as `google.rpc.BadRequest`).
    public var fieldViolations: [FieldViolation]
    /// When the client may retry (sent as `google.rpc.RetryInfo`).
    public var retryAfter: Duration?
    /// Extra `ErrorInfo.metadata`.
    public var metadata: [String: String]

    public init(
        _ code: Code,
        _ message: String,
        fieldViolations: [FieldViolation] = [],
        retryAfter: Duration? = nil,
        metadata: [String: String] = [:]
    ) {
        self.code = code
        self.message = message
        self.fieldViolations = fieldViolations
        self.retryAfter = retryAfter
        self.metadata = metadata
    }

    public var description: String { "\(code.reason): \(message)" }

    /// An INVALID_FIELD error naming one field.
    public static func invalidField(_ field: String, _ description: String) -> ClassyError {
        ClassyError(
            .invalidField,
            "invalid \(field): \(description)",
            fieldViolations: [FieldViolation(field: field, description: description)]
        )
    }

    /// An INVALID_FIELD error naming several fields.
    public static func invalidFields(_ violations: [FieldViolation]) -> ClassyError {
        let names = violations.map(\.field).joined(separator: ", ")
        return ClassyError(.invalidField, "invalid fields: \(names)", fieldViolations: violations)
    }

    /// The `google.rpc.Status` sent to clients.
    public var googleRPCStatus: GoogleRPCStatus {
        var details: [ErrorDetails] = [
            .errorInfo(reason: code.reason, domain: Self.domain, metadata: metadata)
        ]
        if !fieldViolations.isEmpty {
            details.append(
                .badRequest(
                    violations: fieldViolations.map {
                        .init(field: $0.field, description: $0.description)
                    }
                )
            )
        }
        if let retryAfter {
            details.append(.retryInfo(delay: retryAfter))
        }
        return GoogleRPCStatus(code: code.status, message: message, details: details)
    }
}

extension ClassyError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code { code.status }
    public var rpcErrorMessage: String { message }
    public var rpcErrorMetadata: Metadata { googleRPCStatus.rpcErrorMetadata }
}

extension ClassyError {
    /// Reads a Classy Book error back from an `RPCError` received by a client.
    ///
    /// Returns nil when the error carries no `google.rpc.Status` with a Classy `ErrorInfo`.
    public init?(_ error: RPCError) {
        guard let status = try? error.unpackGoogleRPCStatus(),
            let info = status.details.lazy.compactMap(\.errorInfo).first,
            info.domain == Self.domain
        else { return nil }
        let violations = status.details.compactMap(\.badRequest).flatMap(\.violations).map {
            FieldViolation(field: $0.field, description: $0.violationDescription)
        }
        let retry = status.details.lazy.compactMap(\.retryInfo).first?.delay
        let code = Code.all.first { $0.reason == info.reason } ?? .init(reason: info.reason, status: error.code)
        self.init(code, status.message, fieldViolations: violations, retryAfter: retry, metadata: info.metadata)
    }
}

extension ClassyError.Code {
    /// Every reason this server sends.
    public static let all: [ClassyError.Code] = [
        .invalidField, .invalidCredentials, .accountDisabled, .tokenInvalid, .tokenExpired, .sessionRevoked,
        .refreshTokenReused, .forbidden, .ipBlocked, .accountLocked, .rateLimited, .emailTaken, .etagMismatch,
        .notFound, .storeUnavailable, .registrationClosed, .ipAllowListed, .idempotencyInProgress,
        .idempotencyKeyReused, .unimplemented, .streamOverflow, .internal,
    ]

    /// A reason this server does not know (read from another server's error).
    public init(reason: String, status: RPCError.Code) {
        self.init(reason, status)
    }
}
