import ClassyCore
import Foundation
import Synchronization

/// A wall clock that stands still until a test moves it.
public final class ManualClock: WallClock, Sendable {
    private let current: Mutex<Date>

    /// Starts at `start` (default: now, rounded down to a whole second).
    public init(start: Date = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(by interval: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(interval) }
    }

    /// Sets the clock.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
