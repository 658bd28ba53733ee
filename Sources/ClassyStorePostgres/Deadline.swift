import Synchronization

/// Thrown by ``withDeadline(_:_:)`` when the operation did not finish in time.
struct DeadlineExceeded: Error {}

/// Runs `operation` and returns its result, or throws ``DeadlineExceeded`` after `timeout`.
///
/// The operation runs in its own task, which is cancelled at the deadline; the caller is answered at the
/// deadline even if the operation ignores cancellation (a driver blocked on a dead socket), so callers never
/// wait longer than `timeout`.
func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let gate = ResumeOnce<T>()
    let work = Task { () -> Void in
        do {
            gate.resume(with: .success(try await operation()))
        } catch {
            gate.resume(with: .failure(error))
        }
    }
    let timer = Task { () -> Void in
        guard (try? await Task.sleep(for: timeout)) != nil else { return }
        if gate.resume(with: .failure(DeadlineExceeded())) { work.cancel() }
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        try await gate.wait()
    } onCancel: {
        work.cancel()
    }
}

/// A continuation resumed by whichever result arrives first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, any Error>?
        var continuation: CheckedContinuation<T, any Error>?
    }

    private let state = Mutex(State())

    /// Delivers `result` unless one was delivered already; returns whether it was the first.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        let (first, continuation) = state.withLock { state -> (Bool, CheckedContinuation<T, any Error>?) in
            guard state.result == nil else { return (false, nil) }
            state.result = result
            defer { state.continuation = nil }
            return (true, state.continuation)
        }
        continuation?.resume(with: result)
        return first
    }

    /// Waits for the first result.
    func wait() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<T, any Error>? in
                if let result = state.result { return result }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
