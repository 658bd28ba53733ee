import GRPCCore
import GRPCProtobuf

/// Why a `classy-monitor` command stopped, with the process exit status it maps to.
///
/// | status | kind |
/// |---|---|
/// | 0 | success, or stopped by SIGINT / SIGTERM / `q` |
/// | 1 | unexpected error |
/// | 2 | usage: bad flags or values, or a request the server found invalid |
/// | 3 | authentication failed (bad credentials, token rejected and not renewable, account locked) |
/// | 4 | permission denied (role too low, IP blocked, account disabled) |
/// | 5 | server unreachable |
/// | 6 | the server refused the operation (not found, allow-listed range, …) |
public struct MonitorFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The category of a failure; each has its own exit status.
    public enum Kind: Sendable, Hashable {
        case unexpected, usage, authentication, permission, unreachable, refused

        /// The process exit status.
        public var exitCode: Int32 {
            switch self {
            case .unexpected: 1
            case .usage: 2
            case .authentication: 3
            case .permission: 4
            case .unreachable: 5
            case .refused: 6
            }
        }
    }

    /// The category (and so the exit status).
    public var kind: Kind
    /// One line for stderr.
    public var message: String
    /// The server's `ErrorInfo.reason`, when the failure came from an RPC error.
    public var reason: String?
    /// The server's `RetryInfo` delay, if any.
    public var retryAfter: Duration?

    /// A failure of `kind`.
    public init(_ kind: Kind, _ message: String, reason: String? = nil, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.reason = reason
        self.retryAfter = retryAfter
    }

    /// The process exit status.
    public var exitCode: Int32 { kind.exitCode }
    public var description: String { message }

    /// A usage error (exit status 2).
    public static func usage(_ message: String) -> MonitorFailure { MonitorFailure(.usage, message) }
}

/// The Classy `ErrorInfo` of an RPC error, read from `grpc-status-details-bin`.
public struct ServerErrorDetails: Sendable, Hashable {
    /// The status code.
    public var code: RPCError.Code
    /// The status message.
    public var message: String
    /// `ErrorInfo.reason` when the domain is `classy`.
    public var reason: String?
    /// The `RetryInfo` delay, if any.
    public var retryAfter: Duration?

    /// Reads the details of `error`.
    public init(_ error: RPCError) {
        code = error.code
        message = error.message
        if let status = try? error.unpackGoogleRPCStatus() {
            reason = status.details.lazy.compactMap(\.errorInfo).first { $0.domain == "classy" }?.reason
            retryAfter = status.details.lazy.compactMap(\.retryInfo).first?.delay
            if !status.message.isEmpty { message = status.message }
        }
    }
}

/// What the resume loop does about an error of the stream or of authentication.
public enum FailureDisposition: Sendable, Hashable {
    /// Reconnect after the backoff (at least `after`, if the server said so).
    case retry(after: Duration?)
    /// Get a new access token, then reconnect.
    case renewToken
    /// Stop with this failure.
    case fatal(MonitorFailure)
}

extension MonitorFailure {
    /// Maps an error of a call to the failure it stands for; `operation` names the call in the message.
    public init(_ error: any Error, operation: String) {
        if let failure = error as? MonitorFailure {
            self = failure
            return
        }
        guard let rpc = error as? RPCError else {
            self.init(.unexpected, "\(operation): \(error)")
            return
        }
        let details = ServerErrorDetails(rpc)
        let said = details.reason.map { "\($0): \(details.message)" } ?? "\(details.code): \(details.message)"
        let kind: Kind
        switch details.code {
        case .unauthenticated: kind = .authentication
        case .permissionDenied: kind = .permission
        case .invalidArgument, .outOfRange: kind = .usage
        case .unavailable where details.reason == nil: kind = .unreachable
        case .deadlineExceeded: kind = .unreachable
        case .notFound, .failedPrecondition, .alreadyExists, .aborted: kind = .refused
        case .resourceExhausted where details.reason == "ACCOUNT_LOCKED": kind = .authentication
        default: kind = .unexpected
        }
        var message = "\(operation): \(said)"
        if kind == .unreachable, let cause = rpc.cause {
            // The transport's cause names what went wrong underneath (refused, TLS handshake, …).
            message += " [\(Self.innermost(cause))]"
        }
        self.init(kind, message, reason: details.reason, retryAfter: details.retryAfter)
    }

    /// The deepest cause of a chain of RPC errors.
    static func innermost(_ error: any Error) -> String {
        var error = error
        while let rpc = error as? RPCError, let cause = rpc.cause { error = cause }
        if let rpc = error as? RPCError { return rpc.message }
        return String(describing: error)
    }

    /// What the stream loop does about `error`.
    public static func disposition(of error: any Error) -> FailureDisposition {
        if let failure = error as? MonitorFailure { return .fatal(failure) }
        guard let rpc = error as? RPCError else {
            return .fatal(MonitorFailure(error, operation: "StreamSecurityEvents"))
        }
        let details = ServerErrorDetails(rpc)
        switch details.code {
        case .unavailable, .deadlineExceeded, .unknown, .cancelled, .aborted, .internalError:
            // Transport failures, server shutdown and restarts: resume from the last sequence.
            return .retry(after: details.retryAfter)
        case .resourceExhausted:
            // STREAM_OVERFLOW (we fell behind) or RATE_LIMITED: resume, honouring RetryInfo.
            return .retry(after: details.retryAfter)
        case .unauthenticated where ["TOKEN_EXPIRED", "SESSION_REVOKED", "TOKEN_INVALID"].contains(details.reason):
            return .renewToken
        default:
            return .fatal(MonitorFailure(error, operation: "StreamSecurityEvents"))
        }
    }
}
