import ClassyCore
import Foundation

/// A stored service account (machine client using client credentials).
public struct ServiceAccountRecord: Sendable, Equatable, Hashable {
    /// The account's UUID.
    public var id: String
    /// The public client id; unique.
    public var clientID: String
    /// A display name.
    public var name: String
    /// A description.
    public var description: String
    /// The hash of the client secret.
    public var secretHash: String
    /// When it was created.
    public var createTime: Date
    /// Whether it was deleted (its tokens stop working).
    public var deleted: Bool
    /// When it was deleted.
    public var deleteTime: Date?

    /// Creates a service account record.
    public init(
        id: String = UUID.randomLowercasedString(),
        clientID: String,
        name: String,
        description: String = "",
        secretHash: String,
        createTime: Date,
        deleted: Bool = false,
        deleteTime: Date? = nil
    ) {
        self.id = id
        self.clientID = clientID
        self.name = name
        self.description = description
        self.secretHash = secretHash
        self.createTime = createTime
        self.deleted = deleted
        self.deleteTime = deleteTime
    }
}
