/// A wake-up sent after a transaction that appended events or notifications has committed.
///
/// It is a hint: subscribers read the new rows from the store after their own cursor, so a missed or
/// coalesced wake-up never loses data, and a wake-up never announces uncommitted rows.
public struct StoreCommit: Sendable, Hashable {
    /// The highest event sequence appended by the transaction, `nil` if it appended none.
    public var lastEventSequence: UInt64?
    /// The users who received notifications in the transaction.
    public var notifiedUserIDs: Set<String>

    /// Creates a commit wake-up.
    public init(lastEventSequence: UInt64?, notifiedUserIDs: Set<String>) {
        self.lastEventSequence = lastEventSequence
        self.notifiedUserIDs = notifiedUserIDs
    }

    /// Whether the commit appended nothing a subscriber cares about.
    public var isEmpty: Bool { lastEventSequence == nil && notifiedUserIDs.isEmpty }
}
