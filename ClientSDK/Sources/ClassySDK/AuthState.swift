import Foundation
import Synchronization

/// Whether the client is signed in.
public enum AuthState: Sendable, Hashable {
    /// Signed in as this account.
    case signedIn(Account)
    /// Signed out, and why.
    case signedOut(SignOutReason)
}

/// Why a client is signed out.
public enum SignOutReason: Sendable, Hashable {
    /// It never signed in (or its token store was empty).
    case notSignedIn
    /// The app signed out.
    case userSignedOut
    /// The server revoked the session (logout elsewhere, an admin, deactivation, a SESSION_REVOKED
    /// notification for this session).
    case sessionRevoked
    /// The refresh token was used twice: the server revoked the whole session (possible token theft).
    case refreshTokenReused
    /// The server refused the refresh token (expired or unknown).
    case refreshFailed(reason: String)
}

/// Fans values out to any number of `AsyncStream` subscribers; each starts with the latest value.
final class Broadcaster<Value: Sendable>: Sendable {
    private struct State {
        var latest: Value?
        var nextID = 0
        var continuations: [Int: AsyncStream<Value>.Continuation] = [:]
    }

    private let state: Mutex<State>

    init(initial: Value? = nil) {
        state = Mutex(State(latest: initial))
    }

    var latest: Value? { state.withLock { $0.latest } }

    func publish(_ value: Value) {
        let continuations = state.withLock { state in
            state.latest = value
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.yield(value) }
    }

    func stream(replayLatest: Bool = true) -> AsyncStream<Value> {
        let (stream, continuation) = AsyncStream<Value>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let id = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.continuations[id] = continuation
            if replayLatest, let latest = state.latest { continuation.yield(latest) }
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    func finish() {
        let continuations = state.withLock { state in
            defer { state.continuations.removeAll() }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}

/// A value shared with `@Sendable` closures (stream positions that must survive a failed call).
final class LockedBox<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) { storage = Mutex(value) }

    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
