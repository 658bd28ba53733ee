import ClassyAuth
import ClassyCore
import ClassyStore
import Foundation
import Logging

/// Creates the primary super admin on the first start of an empty database.
public struct PrimaryAdminSeeder: Sendable {
    let store: any ClassyStoreProtocol
    let hasher: any PasswordHasher
    let clock: any WallClock

    public init(store: any ClassyStoreProtocol, hasher: any PasswordHasher, clock: any WallClock) {
        self.store = store
        self.hasher = hasher
        self.clock = clock
    }

    /// What seeding did.
    public enum Outcome: Sendable, Equatable {
        /// A primary admin already existed.
        case existing(email: String)
        /// It was created with the configured password.
        case created(email: String)
        /// It was created with this generated password (print it once).
        case createdWithGeneratedPassword(email: String, password: String)
    }

    /// Creates the primary admin unless one exists.
    public func seed(email: String, password: String?) async throws -> Outcome {
        if let existing = try await store.primaryAdmin() {
            return .existing(email: existing.email)
        }
        let chosen = password ?? Self.generatePassword()
        let user = NewUser(
            email: email,
            passwordHash: try await hasher.hash(chosen),
            firstName: "Primary",
            lastName: "Admin",
            role: .superAdmin,
            isPrimaryAdmin: true,
            createTime: clock.now()
        )
        do {
            _ = try await store.createUser(user, effects: .none)
        } catch let error as StoreError where error.code == .conflict || error.code == .emailTaken {
            // Another replica seeded first, or the email belongs to an ordinary account.
            if let existing = try await store.primaryAdmin() { return .existing(email: existing.email) }
            throw error
        }
        return password == nil ? .createdWithGeneratedPassword(email: email, password: chosen) : .created(email: email)
    }

    /// A random 24-character password, for command-line tools.
    public static func generatePasswordForCLI() -> String { generatePassword() }

    /// A random 24-character password.
    static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<24).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
