import ClassyStore
import GRDB
import Logging

/// Translates SQLite and GRDB errors into ``StoreError``.
enum SQLiteErrorMapping {
    /// Returns the ``StoreError`` for `error` (store errors and cancellation pass through unchanged).
    static func map(_ error: any Error, logger: Logger) -> any Error {
        switch error {
        case let error as StoreError:
            return error
        case is CancellationError:
            return error
        case let error as DatabaseError:
            return map(error, logger: logger)
        default:
            logger.error("store failure", metadata: ["error": "\(error)"])
            return StoreError.unavailable("store failure: \(error)", cause: error)
        }
    }

    private static func map(_ error: DatabaseError, logger: Logger) -> StoreError {
        let message = error.message ?? "\(error.extendedResultCode)"
        if error.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY {
            return StoreError(code: .notFound, message: "referenced record not found", cause: error)
        }
        if error.resultCode == .SQLITE_CONSTRAINT {
            if message.contains("users.email") {
                return StoreError(code: .emailTaken, message: "email is already registered", cause: error)
            }
            return StoreError.conflict("constraint violated: \(message)", cause: error)
        }
        logger.error("SQLite failure", metadata: ["code": "\(error.extendedResultCode)", "message": "\(message)"])
        return StoreError.unavailable("SQLite \(error.extendedResultCode): \(message)", cause: error)
    }
}
