import Foundation

/// The stored first response of a mutating RPC made with an `idempotency-key`.
public struct IdempotencyRecord: Sendable, Equatable, Hashable {
    /// Who made the call (for example a user or service account id); keys are scoped per caller.
    public var callerKey: String
    /// The client-chosen idempotency key.
    public var key: String
    /// The RPC's full method name.
    public var method: String
    /// The serialized first response.
    public var responseBytes: Data
    /// When the first response was stored.
    public var createTime: Date

    /// Creates an idempotency record.
    public init(callerKey: String, key: String, method: String, responseBytes: Data, createTime: Date) {
        self.callerKey = callerKey
        self.key = key
        self.method = method
        self.responseBytes = responseBytes
        self.createTime = createTime
    }
}
