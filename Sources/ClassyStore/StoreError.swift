/// An error raised by a store backend; the server maps its ``Code`` to an API status code.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure, stable across backends.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case emailTaken = "email_taken"
            case notFound = "not_found"
            case etagMismatch = "etag_mismatch"
            case conflict
            case unavailable
            case invalid
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// Another non-deleted user already has that email (API: ALREADY_EXISTS / EMAIL_TAKEN).
        public static let emailTaken = Code(.emailTaken)
        /// The record does not exist or is soft-deleted (API: NOT_FOUND).
        public static let notFound = Code(.notFound)
        /// The presented etag is not the record's current etag (API: ABORTED / ETAG_MISMATCH).
        public static let etagMismatch = Code(.etagMismatch)
        /// A uniqueness or state rule other than email was violated (for example a second primary admin).
        public static let conflict = Code(.conflict)
        /// The backend cannot be reached or failed to read or write (API: UNAVAILABLE / STORE_UNAVAILABLE).
        public static let unavailable = Code(.unavailable)
        /// The request cannot be stored as given (a programming error in the caller).
        public static let invalid = Code(.invalid)

        /// The code's stable name, for logs.
        public var description: String { wrapped.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation for logs; never shown to API clients verbatim.
    public var message: String
    /// The backend error that caused this one, if any.
    public var cause: (any Error & Sendable)?

    /// Creates an error with a code, a message and an optional underlying cause.
    public init(code: Code, message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The code, message and cause, for logs.
    public var description: String {
        if let cause {
            return "StoreError(\(code)): \(message) (cause: \(cause))"
        }
        return "StoreError(\(code)): \(message)"
    }

    /// An email-already-registered error.
    public static func emailTaken(_ email: String) -> StoreError {
        StoreError(code: .emailTaken, message: "email \(email) is already registered")
    }

    /// A not-found error naming what was looked for.
    public static func notFound(_ what: String) -> StoreError {
        StoreError(code: .notFound, message: "\(what) not found")
    }

    /// A stale-etag error.
    public static func etagMismatch(_ what: String) -> StoreError {
        StoreError(code: .etagMismatch, message: "etag of \(what) does not match")
    }

    /// A conflict with an existing record.
    public static func conflict(_ message: String, cause: (any Error & Sendable)? = nil) -> StoreError {
        StoreError(code: .conflict, message: message, cause: cause)
    }

    /// A backend that cannot serve the request.
    public static func unavailable(_ message: String, cause: (any Error & Sendable)? = nil) -> StoreError {
        StoreError(code: .unavailable, message: message, cause: cause)
    }

    /// A request that cannot be stored as given.
    public static func invalid(_ message: String) -> StoreError {
        StoreError(code: .invalid, message: message)
    }
}
