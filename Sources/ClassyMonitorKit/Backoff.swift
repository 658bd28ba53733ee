/// Jittered exponential backoff between reconnection attempts.
///
/// Attempt `n` (0-based) waits a random time in `[base/2, base]` where `base = min(maximum, initial * multiplier^n)`
/// ("equal jitter"): never zero, so a crowd of monitors does not reconnect in lock-step after a server restart.
public struct Backoff: Sendable, Hashable {
    /// The ceiling of the first wait.
    public var initial: Duration
    /// The largest ceiling.
    public var maximum: Duration
    /// How much the ceiling grows per attempt.
    public var multiplier: Double

    /// A backoff from `initial` growing by `multiplier` up to `maximum`.
    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30), multiplier: Double = 2) {
        precondition(initial > .zero && maximum >= initial && multiplier >= 1, "invalid backoff")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
    }

    /// The upper bound of the delay before attempt `attempt` (0-based), in whole milliseconds.
    public func ceiling(attempt: Int) -> Duration {
        let maximum = Self.milliseconds(self.maximum)
        var base = Double(Self.milliseconds(initial))
        for _ in 0..<max(0, min(attempt, 64)) {
            base *= multiplier
            if base >= Double(maximum) { return .milliseconds(maximum) }
        }
        return .milliseconds(min(Int64(base.rounded()), maximum))
    }

    /// The delay before attempt `attempt`, with `unit` a random number in `0...1`: from half the ceiling (unit 0) to
    /// the ceiling (unit 1), in whole milliseconds.
    public func delay(attempt: Int, unit: Double) -> Duration {
        let ceiling = Self.milliseconds(ceiling(attempt: attempt))
        let half = ceiling / 2
        return .milliseconds(half + Int64((Double(ceiling - half) * min(1, max(0, unit))).rounded()))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The delay before attempt `attempt`, randomised.
    public func delay(attempt: Int) -> Duration {
        delay(attempt: attempt, unit: Double.random(in: 0...1))
    }
}

extension Duration {
    /// This duration in seconds.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
