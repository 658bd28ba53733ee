/// A wake-up sent after a transaction that appended events or notifications has committed.
///
/// It is a hint: subscribers read the new rows from the store after their own cursor, so a missed or
/// coalesced wake-up never loses data, and a wake-up never announces uncommitted rows.
public struct StoreCommit: Sendable, Hashable {
    /// The highest event sequence appended by the transaction, `nil` if it appended none.
    public var lastEventSequence: UInt64?
    /// The kinds of the events the transaction appended; `nil` when unknown (they may be of any kind).
    ///
    /// An event hub whose subscribers want none of these kinds moves past the commit without reading it.
    public var eventKinds: Set<SecurityEventKind>?
    /// The users who received notifications in the transaction.
    public var notifiedUserIDs: Set<String>

    /// Creates a commit wake-up.
    public init(
        lastEventSequence: UInt64?, eventKinds: Set<SecurityEventKind>? = nil, notifiedUserIDs: Set<String>
    ) {
        self.lastEventSequence = lastEventSequence
        self.eventKinds = eventKinds
        self.notifiedUserIDs = notifiedUserIDs
    }

    /// The wake-up of a transaction that appended `committed` (every backend announces its commits so).
    public init(_ committed: CommittedEffects) {
        self.init(
            lastEventSequence: committed.events.last?.sequence, eventKinds: Set(committed.events.map(\.kind)),
            notifiedUserIDs: Set(committed.notifications.map(\.userID))
        )
    }

    /// Whether the commit appended nothing a subscriber cares about.
    public var isEmpty: Bool { lastEventSequence == nil && notifiedUserIDs.isEmpty }
}
