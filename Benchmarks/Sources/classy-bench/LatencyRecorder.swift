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

    /// Calls, failures, rate over `elapsed`, p50/p99 in milliseconds, and the process CPU time per call given the
    /// CPU time the process spent over `elapsed`.
    func summary(elapsed: Double, cpuSeconds: Double) -> Summary {
        let sorted = samples.withLock { $0.sorted() }
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
        }
        return Summary(
            calls: sorted.count, failures: failures.withLock { $0 }, perSecond: Double(sorted.count) / elapsed,
            p50: percentile(0.50), p99: percentile(0.99),
            cpuMicrosecondsPerCall: sorted.isEmpty ? .nan : cpuSeconds / Double(sorted.count) * 1e6
        )
    }

    struct Summary {
        var calls: Int
        var failures: Int
        var perSecond: Double
        var p50: Double
        var p99: Double
        /// CPU time of the whole process (user and system, all threads) per successful call, in µs: with the
        /// in-process server it is the server's and the generator's work together.
        var cpuMicrosecondsPerCall: Double
    }
}

/// The CPU time this process has used so far (user and system, all threads), in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
