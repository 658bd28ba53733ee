import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Delivers Unix signals as async events instead of their default action.
final class SignalWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    /// Starts catching `signals` (their default action is disabled from now on).
    init(_ signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }

    /// The signals caught, in order.
    var signals: AsyncStream<Int32> { stream }

    /// Waits for the next signal (nil if cancelled).
    func next() async -> Int32? {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }
}

/// Runs `body` until it returns or SIGINT/SIGTERM arrives (then `body` is cancelled); true if a signal stopped it.
func runUntilInterrupted(
    _ watcher: SignalWatcher, _ body: @escaping @Sendable () async throws -> Void
) async throws -> Bool {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await body()
            return false
        }
        group.addTask {
            _ = await watcher.next()
            return !Task.isCancelled
        }
        let interrupted = try await group.next() ?? false
        group.cancelAll()
        while let other = try await group.next() { _ = other }
        return interrupted
    }
}
