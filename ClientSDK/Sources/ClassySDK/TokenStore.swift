import Foundation
import Synchronization

/// The credentials of a signed-in account, as a token store keeps them.
public struct StoredCredentials: Sendable, Hashable, Codable {
    public var account: Account
    public var accessToken: String
    public var accessTokenExpireTime: Date
    public var refreshToken: String
    public var refreshTokenExpireTime: Date

    public init(
        account: Account, accessToken: String, accessTokenExpireTime: Date, refreshToken: String,
        refreshTokenExpireTime: Date
    ) {
        self.account = account
        self.accessToken = accessToken
        self.accessTokenExpireTime = accessTokenExpireTime
        self.refreshToken = refreshToken
        self.refreshTokenExpireTime = refreshTokenExpireTime
    }
}

/// Where a client keeps its tokens between runs.
///
/// Calls are synchronous on purpose: the client serialises them inside its token actor, so a save can
/// never land after the clear of a sign-out. Implement it over a keychain or a secrets service.
public protocol TokenStore: Sendable {
    /// The saved credentials, if any.
    func load() throws -> StoredCredentials?
    /// Replaces the saved credentials.
    func save(_ credentials: StoredCredentials) throws
    /// Forgets the saved credentials.
    func clear() throws
}

/// Keeps tokens in memory only (they are gone when the process ends).
public final class InMemoryTokenStore: TokenStore {
    private let credentials: Mutex<StoredCredentials?>

    public init(_ credentials: StoredCredentials? = nil) {
        self.credentials = Mutex(credentials)
    }

    public func load() throws -> StoredCredentials? { credentials.withLock { $0 } }
    public func save(_ credentials: StoredCredentials) throws { self.credentials.withLock { $0 = credentials } }
    public func clear() throws { credentials.withLock { $0 = nil } }
}

/// Keeps tokens in a JSON file readable and writable by the owner only (0600), replaced atomically.
public struct FileTokenStore: TokenStore {
    /// The file.
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func load() throws -> StoredCredentials? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(StoredCredentials.self, from: data)
    }

    public func save(_ credentials: StoredCredentials) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(credentials)
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
        // Created 0600 before any secret is written, then renamed over the old file.
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard
            FileManager.default.createFile(
                atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600])
        else {
            throw ClassyClientError(status: .unknown, reason: "CLIENT", message: "cannot create \(temporary.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        if rename(temporary.path, url.path) != 0 {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw ClassyClientError(
                status: .unknown, reason: "CLIENT", message: "cannot write \(path): \(String(cString: strerror(code)))"
            )
        }
    }

    public func clear() throws {
        if FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
