import CoreMetrics
import Foundation
import Synchronization

/// Per-RPC request counters and latency timers, made with an explicit metrics factory so each
/// server owns its registry.
final class RPCMetrics: Sendable {
    private let factory: any MetricsFactory
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts one finished RPC with its status code and records its duration.
    func record(method: String, code: String, duration: Duration) {
        let counterKey = method + "|" + code
        let counter = counters.withLock { counters in
            if let existing = counters[counterKey] { return existing }
            let created = CoreMetrics.Counter(
                label: "classy_rpc_requests_total", dimensions: [("method", method), ("code", code)], factory: factory
            )
            counters[counterKey] = created
            return created
        }
        counter.increment()
        let timer = timers.withLock { timers in
            if let existing = timers[method] { return existing }
            let created = CoreMetrics.Timer(
                label: "classy_rpc_duration_seconds", dimensions: [("method", method)], factory: factory
            )
            timers[method] = created
            return created
        }
        timer.recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
