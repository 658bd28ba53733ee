import Foundation
import Synchronization

/// Collects per-call latencies from many tasks and summarises them.
final class LatencyRecorder: Sendable {
    private let samples = Mutex<[Double]>([])
    private let failures = Mutex(0)

    /// Records one call's duration in seconds.
    func record(_ seconds: Double) { samples.withLock { $0.append(seconds) } }

    /// Records one failed call.
    func fail() { failures.withLock { $0 += 1 } }

    /// Calls, failures, rate over `elapsed`, and p50/p99 in milliseconds.
    func summary(elapsed: Double) -> Summary {
        let sorted = samples.withLock { $0.sorted() }
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
        }
        return Summary(
            calls: sorted.count, failures: failures.withLock { $0 }, perSecond: Double(sorted.count) / elapsed,
            p50: percentile(0.50), p99: percentile(0.99)
        )
    }

    struct Summary {
        var calls: Int
        var failures: Int
        var perSecond: Double
        var p50: Double
        var p99: Double
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
