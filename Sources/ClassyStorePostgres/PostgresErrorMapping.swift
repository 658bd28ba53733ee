import ClassyStore
import Logging
import PostgresNIO

/// Translates postgres-nio errors into ``StoreError``.
enum PostgresErrorMapping {
    /// Returns the ``StoreError`` for `error` (store errors and cancellation pass through unchanged).
    static func map(_ error: any Error, logger: Logger) -> any Error {
        switch error {
        case let error as StoreError:
            return error
        case is CancellationError:
            return error
        case let error as PSQLError:
            return map(error, logger: logger)
        case let error as PostgresTransactionError:
            // The closure's own error (a StoreError, a constraint violation) explains the failure; a failed
            // BEGIN/COMMIT means the server went away.
            if let cause = error.closureError ?? error.beginError ?? error.commitError {
                return map(cause, logger: logger)
            }
            return StoreError.unavailable("transaction failed", cause: StoreErrorCause("\(error)"))
        default:
            logger.error("store failure", metadata: ["error": "\(error)"])
            return StoreError.unavailable("store failure: \(error)", cause: StoreErrorCause("\(error)"))
        }
    }

    private static func map(_ error: PSQLError, logger: Logger) -> StoreError {
        let sqlState = error.serverInfo?[.sqlState]
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        let constraint = error.serverInfo?[.constraintName] ?? ""
        let cause = StoreErrorCause("PostgreSQL \(sqlState ?? "\(error.code)"): \(message)")
        switch sqlState {
        case "23505":  // unique_violation
            if constraint == "users_email_live" {
                return StoreError(code: .emailTaken, message: "email is already registered", cause: cause)
            }
            return StoreError.conflict("constraint violated: \(constraint) (\(message))", cause: cause)
        case "23503":  // foreign_key_violation
            return StoreError(code: .notFound, message: "referenced record not found", cause: cause)
        case "22P02", "22001", "22003", "23502", "23514":
            return StoreError.invalid("PostgreSQL refused the value: \(message)")
        default:
            logger.error(
                "PostgreSQL failure",
                metadata: ["code": "\(error.code)", "sql_state": "\(sqlState ?? "-")", "message": "\(message)"]
            )
            return StoreError.unavailable("PostgreSQL \(sqlState ?? "\(error.code)"): \(message)", cause: cause)
        }
    }
}

/// The text of a driver error, kept as the cause of a ``StoreError`` (PSQLError is not `Sendable`-checked).
struct StoreErrorCause: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
