import Logging
import Synchronization

/// Log records kept in memory, for tests that check what was logged.
public final class CapturedLogs: Sendable {
    /// One record.
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let storage = Mutex<[Record]>([])

    public init() {}

    /// Everything logged so far.
    public var records: [Record] { storage.withLock { $0 } }

    /// A logger that records here everything at `level` or above.
    public func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "classy.test.captured") { _ in Handler(logs: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ record: Record) {
        storage.withLock { $0.append(record) }
    }

    private struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            logs.append(
                Record(
                    level: event.level, message: "\(event.message)",
                    metadata: all.mapValues { "\($0)" }
                )
            )
        }
    }
}
