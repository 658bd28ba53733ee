import CArgon2
import ClassyCore
import Foundation

/// The cost and sizes of an Argon2id hash.
public struct Argon2Parameters: Sendable, Hashable {
    /// Memory cost in KiB (`m`).
    public var memoryKiB: UInt32
    /// Number of passes over the memory (`t`).
    public var iterations: UInt32
    /// Number of lanes (`p`).
    public var parallelism: UInt32
    /// Length of the random salt in bytes.
    public var saltLength: Int
    /// Length of the derived hash in bytes.
    public var hashLength: Int

    /// Creates parameters; the defaults are the OWASP recommendation (m=19 MiB, t=2, p=1).
    public init(
        memoryKiB: UInt32 = 19_456,
        iterations: UInt32 = 2,
        parallelism: UInt32 = 1,
        saltLength: Int = 16,
        hashLength: Int = 32
    ) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
        self.saltLength = saltLength
        self.hashLength = hashLength
    }

    /// The OWASP-recommended production parameters: m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte hash.
    public static let owasp = Argon2Parameters()
}

/// Argon2id password hashing through libargon2, the reference implementation.
///
/// Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). All hashing runs on a
/// ``PasswordHashingPool`` so the async callers never block a cooperative or event-loop thread.
///
/// ```swift
/// let hasher = try await Argon2idPasswordHasher()
/// let phc = try await hasher.hash("correct horse battery staple")
/// let ok = try await hasher.verify("correct horse battery staple", against: phc)
/// ```
public struct Argon2idPasswordHasher: PasswordHasher {
    /// The parameters new hashes are made with.
    public let parameters: Argon2Parameters
    /// The pool the hashing runs on.
    public let pool: PasswordHashingPool
    /// A hash of a random password made at start with ``parameters``; ``verifyDummy(password:)`` uses it.
    public let dummyHash: String
    /// What every PHC string made with ``parameters`` looks like, for ``needsRehash(_:)``'s fast path.
    private let currentShape: Argon2PHCString.Shape

    /// Creates a hasher and computes its dummy hash on `pool`.
    public init(parameters: Argon2Parameters = .owasp, pool: PasswordHashingPool = .shared) async throws {
        self.parameters = parameters
        self.pool = pool
        self.currentShape = Argon2PHCString.Shape(parameters)
        let randomPassword = OpaqueToken.generate(bytes: 32)
        self.dummyHash = try await pool.run { try Self.hashBlocking(randomPassword, parameters: parameters) }
    }

    /// Hashes `password` with a fresh 16-byte salt from the system CSPRNG.
    public func hash(_ password: String) async throws -> String {
        let parameters = self.parameters
        return try await pool.run { try Self.hashBlocking(password, parameters: parameters) }
    }

    /// Verifies `password` against a stored Argon2id PHC string in constant time.
    public func verify(_ password: String, against phc: String) async throws -> Bool {
        try await pool.run { try Self.verifyBlocking(password, against: phc) }
    }

    /// True when `phc` is unreadable or was made with other parameters than ``parameters``.
    public func needsRehash(_ phc: String) -> Bool {
        // Every sign-in asks: answer the common case without parsing (about 40 µs with the full parser).
        if currentShape.matches(phc) { return false }
        guard let parsed = Argon2PHCString(phc) else { return true }
        return parsed.parameters != parameters || parsed.version != Argon2PHCString.currentVersion
    }

    /// The hashing pool: handlers that prefer it run their steps around the hash on its threads.
    public var taskExecutor: (any TaskExecutor)? { pool }

    /// Verifies `password` against ``dummyHash`` and discards the result.
    public func verifyDummy(password: String) async {
        _ = try? await verify(password, against: dummyHash)
    }

    /// Hashes on the calling thread; blocks it for the whole computation (the hasher's methods run this on the
    /// hashing pool; a benchmark calls it on threads of its own to measure the raw rate).
    public static func hashBlocking(_ password: String, parameters: Argon2Parameters) throws -> String {
        let salt = SecureRandom.bytes(parameters.saltLength)
        let passwordBytes = Array(password.utf8)
        let encodedLength = argon2_encodedlen(
            parameters.iterations, parameters.memoryKiB, parameters.parallelism,
            UInt32(parameters.saltLength), UInt32(parameters.hashLength), Argon2_id
        )
        var encoded = [CChar](repeating: 0, count: encodedLength)
        let code = passwordBytes.withUnsafeBytes { passwordBuffer in
            salt.withUnsafeBytes { saltBuffer in
                argon2id_hash_encoded(
                    parameters.iterations, parameters.memoryKiB, parameters.parallelism,
                    passwordBuffer.baseAddress, passwordBuffer.count,
                    saltBuffer.baseAddress, saltBuffer.count,
                    parameters.hashLength, &encoded, encoded.count
                )
            }
        }
        guard code == ARGON2_OK.rawValue else { throw Self.error(code) }
        return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Verifies on the calling thread; blocks it for the whole computation.
    static func verifyBlocking(_ password: String, against phc: String) throws -> Bool {
        guard phc.hasPrefix("$argon2id$"), !phc.utf8.contains(0) else { throw PasswordHasherError.malformedHash }
        let passwordBytes = Array(password.utf8)
        let code = passwordBytes.withUnsafeBytes { passwordBuffer in
            argon2id_verify(phc, passwordBuffer.baseAddress, passwordBuffer.count)
        }
        switch code {
        case ARGON2_OK.rawValue: return true
        case ARGON2_VERIFY_MISMATCH.rawValue: return false
        case ARGON2_DECODING_FAIL.rawValue, ARGON2_DECODING_LENGTH_FAIL.rawValue, ARGON2_INCORRECT_TYPE.rawValue:
            throw PasswordHasherError.malformedHash
        default: throw Self.error(code)
        }
    }

    private static func error(_ code: Int32) -> PasswordHasherError {
        .argon2(code: code, message: String(cString: argon2_error_message(code)))
    }
}
