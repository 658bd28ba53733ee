/// Hashes and verifies passwords; the seam that lets tests and services choose the cost.
///
/// Implementations never truncate a password and compare in constant time. Hashing is slow on purpose,
/// so implementations run it away from the Swift concurrency cooperative pool and NIO event loops.
public protocol PasswordHasher: Sendable {
    /// Hashes `password` with a fresh random salt and returns a self-describing string (PHC format).
    func hash(_ password: String) async throws -> String

    /// Whether `password` matches the stored hash `phc`; throws when `phc` cannot be read.
    func verify(_ password: String, against phc: String) async throws -> Bool

    /// Whether `phc` was made with other parameters than the configured ones and should be re-hashed
    /// after the next successful login.
    func needsRehash(_ phc: String) -> Bool

    /// Spends the time of one ``verify(_:against:)`` on a dummy hash, so that unknown accounts answer
    /// as slowly as known ones.
    func verifyDummy(password: String) async

    /// The executor of the threads that hash, if the hasher has one that tasks may prefer; `nil` by default.
    var taskExecutor: (any TaskExecutor)? { get }
}

extension PasswordHasher {
    public var taskExecutor: (any TaskExecutor)? { nil }

    /// Runs `operation`, the handler of an RPC whose cost is mostly hashing, preferring ``taskExecutor``: its
    /// steps around the hash then run on the hashing threads instead of waking other threads (see
    /// `PasswordHashingPool`). Without an executor it runs as it would anyway.
    public func withHashingExecutor<T, Failure: Error>(
        _ operation: () async throws(Failure) -> T
    ) async throws(Failure) -> T {
        try await withTaskExecutorPreference(taskExecutor, operation: operation)
    }
}

/// An error from password hashing.
public enum PasswordHasherError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libargon2 failed with this error code and message.
    case argon2(code: Int32, message: String)
    /// The stored hash is not an Argon2id PHC string this hasher can read.
    case malformedHash
    /// The hashing thread pool was shut down.
    case poolShutDown

    /// A human-readable description, without secrets.
    public var description: String {
        switch self {
        case .argon2(let code, let message): "argon2 error \(code): \(message)"
        case .malformedHash: "malformed password hash"
        case .poolShutDown: "password hashing pool is shut down"
        }
    }
}
