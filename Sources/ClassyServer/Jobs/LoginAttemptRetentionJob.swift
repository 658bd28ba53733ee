import ClassyCore
import ClassyStore
import Foundation
import Logging
import ServiceLifecycle

/// Deletes login attempts (and counted failures) older than the retention period (default 30 days), once at
/// start and then every `interval`.
///
/// The store indexes attempts by time, so each run is one range delete. Failures are logged and retried at the
/// next run; the job ends when its task is cancelled (the server's shutdown).
public struct LoginAttemptRetentionJob: Service {
    let store: any SecurityStore
    let clock: any WallClock
    /// How long attempts are kept.
    public let retention: TimeInterval
    /// How often the job runs.
    public let interval: Duration
    let logger: Logger

    /// Creates the job.
    public init(
        store: any SecurityStore,
        clock: any WallClock,
        retention: TimeInterval = 30 * 24 * 3600,
        interval: Duration = .seconds(3600),
        logger: Logger = Logger(label: "classy.jobs.login-attempt-retention")
    ) {
        self.store = store
        self.clock = clock
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async throws {
        while !Task.isCancelled {
            do {
                try await runOnce()
            } catch {
                logger.warning("login attempt retention failed", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: interval)
        }
    }

    /// Deletes the attempts older than the retention period now; returns how many.
    @discardableResult
    public func runOnce() async throws -> Int {
        let cutoff = clock.now().addingTimeInterval(-retention)
        let deleted = try await store.deleteLoginAttempts(before: cutoff)
        if deleted > 0 {
            logger.info("deleted old login attempts", metadata: ["count": "\(deleted)", "before": "\(cutoff)"])
        }
        return deleted
    }
}
