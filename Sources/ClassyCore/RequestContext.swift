import Foundation

/// The authenticated caller of an RPC, resolved from its bearer token.
public struct Caller: Sendable, Hashable {
    /// The user id, or the service account id for service tokens.
    public var userID: String
    /// The session of the token; nil for service-account tokens.
    public var sessionID: String?
    /// The role the token carries (the user's current role once sessions are checked).
    public var role: Role
    /// The token's `jti`.
    public var tokenID: String
    /// When the token expires.
    public var expireTime: Date

    public init(userID: String, sessionID: String?, role: Role, tokenID: String, expireTime: Date) {
        self.userID = userID
        self.sessionID = sessionID
        self.role = role
        self.tokenID = tokenID
        self.expireTime = expireTime
    }

    /// True for service-account tokens.
    public var isService: Bool { role == .service }
}

/// What the request path learned about the current RPC, visible to handlers through a task-local.
///
/// The interceptors bind it around the whole RPC, including a streaming handler's response
/// producer, so `RequestContext.current` is set wherever a handler runs.
public struct RequestContext: Sendable {
    /// The `x-request-id` of the RPC (the client's, or generated).
    public var requestID: String
    /// The client IP address (the peer, or `x-forwarded-for` from a trusted proxy).
    public var clientIP: String
    /// The caller; nil for anonymous RPCs.
    public var caller: Caller?
    /// The RPC's full method name, `package.Service/Method`.
    public var method: String
    /// The caller's account as authentication read it from the store (a `UserRecord`), so a handler that only
    /// needs the caller's own record does not read it again; nil for anonymous RPCs and service accounts.
    public var account: (any Sendable)?

    public init(requestID: String, clientIP: String, caller: Caller?, method: String) {
        self.requestID = requestID
        self.clientIP = clientIP
        self.caller = caller
        self.method = method
    }

    /// The context of the RPC being handled by this task.
    @TaskLocal public static var current: RequestContext?

    /// The caller of the current RPC, or TOKEN_INVALID if there is none.
    public static func requireCaller() throws(ClassyError) -> Caller {
        guard let caller = current?.caller else {
            throw ClassyError(.tokenInvalid, "authentication required")
        }
        return caller
    }
}
