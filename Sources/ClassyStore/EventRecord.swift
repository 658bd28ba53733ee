import Foundation

/// A persisted security event: the durable, ordered log behind StreamSecurityEvents.
public struct EventRecord: Sendable, Equatable, Hashable {
    /// The event's position in the log: strictly increasing in commit order, never reused, starting at 1.
    public var sequence: UInt64
    /// The event type.
    public var kind: SecurityEventKind
    /// When the event happened.
    public var time: Date
    /// Opaque bytes encoded by the service layer (for example a serialized protobuf message).
    public var payload: Data

    /// Creates an event record.
    public init(sequence: UInt64, kind: SecurityEventKind, time: Date, payload: Data) {
        self.sequence = sequence
        self.kind = kind
        self.time = time
        self.payload = payload
    }
}

/// A security event to append; the store assigns its sequence at commit.
public struct NewSecurityEvent: Sendable, Equatable, Hashable {
    /// The event type.
    public var kind: SecurityEventKind
    /// When the event happened.
    public var time: Date
    /// Opaque bytes encoded by the service layer.
    public var payload: Data

    /// Creates an event to append.
    public init(kind: SecurityEventKind, time: Date, payload: Data) {
        self.kind = kind
        self.time = time
        self.payload = payload
    }
}
