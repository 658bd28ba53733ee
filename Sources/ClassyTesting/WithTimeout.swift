/// A test ran past its time limit.
public struct TimedOut: Error, CustomStringConvertible {
    /// The limit that passed.
    public var seconds: Double

    public init(seconds: Double) {
        self.seconds = seconds
    }

    public var description: String { "timed out after \(seconds) s" }
}

/// Runs `body`, failing with ``TimedOut`` if it takes longer than `seconds` (bounds every waiting test).
public func withTimeout<T: Sendable>(
    _ seconds: Double = 30,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut(seconds: seconds)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TimedOut(seconds: seconds) }
        return result
    }
}
