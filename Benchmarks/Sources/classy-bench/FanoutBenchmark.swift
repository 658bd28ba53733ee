import ArgumentParser
import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyServer
import ClassyStore
import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import NIOCore
import ServiceLifecycle

/// Security-event fan-out: many StreamSecurityEvents subscribers over loopback TCP, events committed to the
/// store at a steady rate, and the time from each commit to its receipt by every subscriber.
struct FanoutBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Deliveries/s and p50/p99 commit-to-receipt latency of StreamSecurityEvents for many subscribers."
    )

    @Option(help: "Concurrent stream subscribers.") var subscribers: Int = 1000
    @Option(help: "Events committed (each one is delivered to every subscriber).") var events: Int = 500
    @Option(help: "Events committed per second.") var rate: Double = 200
    @Option(help: "Events per store transaction.") var batch: Int = 1
    @Option(help: "HTTP/2 connections the subscribers share.") var connections: Int = 8
    @Option(
        help: """
            Subscriber implementation: raw (gRPC frames read on SwiftNIO's event loops, the lightest client) or \
            grpc (grpc-swift's client, as an app would subscribe).
            """
    )
    var client: GeneratorClient = .raw
    @Option(help: "Give up after this many seconds.") var timeout: Double = 120
    @Option(help: "The server's stream coalescing, in milliseconds (CLASSY_STREAM_COALESCING_MS).")
    var coalescingMs: Int = ServerConfiguration().streamCoalescingMilliseconds

    func validate() throws {
        guard subscribers > 0, events > 0, rate > 0, batch > 0, connections > 0, timeout > 0 else {
            throw ValidationError("every option must be positive")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-fanout-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.database = .sqlite(path: directory.appendingPathComponent("bench.sqlite").path)
        configuration.rateLimitEnabled = false
        configuration.adminPassword = "benchmark admin password"
        configuration.maxConcurrentStreams = max(256, subscribers / connections + 16)
        configuration.streamBufferSize = max(1024, events + 16)
        configuration.streamCoalescingMilliseconds = coalescingMs
        let logger = Logger(label: "bench")
        let runtime = try await ClassyServerRuntime(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [runtime], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            let address = try await runtime.listeningAddress
            try await measure(runtime: runtime, port: address.ipv4!.port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// One subscriber's receipts.
    struct Receipts: Sendable {
        /// Seconds from each event's `time` (stamped just before its commit began) to its receipt.
        var latencies: [Double] = []
        /// Each received sequence and when it arrived (seconds since 1970).
        var arrivals: [(sequence: UInt64, time: Double)] = []
        var lastReceipt: UInt64 = 0
    }

    func measure(runtime: ClassyServerRuntime, port: Int) async throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print(
            "classy-bench fanout: \(cores) cores, \(subscribers) \(client.rawValue) subscribers over \(connections) connections, "
                + "\(events) events at \(Int(rate))/s in batches of \(batch)"
        )
        let account = ServiceAccountRecord(
            id: UUID().uuidString.lowercased(), clientID: "bench-\(UUID().uuidString.prefix(8))", name: "fan-out bench",
            description: "", secretHash: OpaqueToken.hash(OpaqueToken.generate()), createTime: runtime.clock.now()
        )
        _ = try await runtime.store.createServiceAccount(account, effects: .none)
        let token = try runtime.tokens.issueAccessToken(userID: account.id, sessionID: nil, role: .service).token
        let hub = runtime.eventHub
        let baseline = hub.subscriberCount
        let deadline = ContinuousClock.now + .seconds(timeout)
        let request = Classy_Monitoring_V1_StreamSecurityEventsRequest.with { $0.types = [.auditLog] }
        let descriptor = Classy_Monitoring_V1_MonitoringService.Method.StreamSecurityEvents.descriptor
        let metadata = [("authorization", "Bearer \(token)")]

        /// Once every subscriber is attached (live-only streams attach when they subscribe), commits the events;
        /// returns when each was committed and when the first commit began.
        @Sendable func commitWhenAttached() async throws -> (commitTimes: [UInt64: Double], started: UInt64) {
            while hub.subscriberCount < baseline + subscribers {
                guard ContinuousClock.now < deadline else {
                    throw ValidationError("subscribers did not attach in time")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let started = DispatchTime.now().uptimeNanoseconds
            return (try await commitEvents(runtime.store, deadline: deadline), started)
        }

        let receipts: [Receipts]
        let commitTimes: [UInt64: Double]
        let started: UInt64
        switch client {
        case .raw:
            var connections: [RawGRPC.Connection] = []
            defer { for connection in connections { connection.channel.close(promise: nil) } }
            for _ in 0..<self.connections {
                connections.append(try await RawGRPC.connect(host: "127.0.0.1", port: port))
            }
            let message: [UInt8] = try request.serializedBytes()
            let calls = (0..<subscribers).map { index in
                RawGRPC.subscribe(
                    on: connections[index % connections.count], authority: "127.0.0.1:\(port)",
                    path: "/" + descriptor.fullyQualifiedMethod, metadata: metadata, message: message,
                    expected: events, deadline: NIODeadline.now() + TimeAmount.seconds(Int64(timeout))
                )
            }
            (commitTimes, started) = try await commitWhenAttached()
            var all: [Receipts] = []
            for call in calls { all.append(try await call.get()) }
            receipts = all
        case .grpc:
            (receipts, commitTimes, started) = try await grpcSubscribers(
                port: port, metadata: metadata, request: request, descriptor: descriptor,
                run: commitWhenAttached
            )
        }
        let finished = receipts.map(\.lastReceipt).max() ?? started

        // From the moment each commit returned (durable, subscribers woken) to the receipt: the fan-out itself.
        let latencies = receipts.flatMap { receipts in
            receipts.arrivals.compactMap { arrival in commitTimes[arrival.sequence].map { arrival.time - $0 } }
        }.sorted()
        // From just before each commit began, so including the commit's own fsync.
        let withCommit = receipts.flatMap(\.latencies).sorted()
        let elapsed = Double(finished &- started) / 1e9
        func percentile(_ p: Double, of latencies: [Double] = latencies) -> Double {
            guard !latencies.isEmpty else { return .nan }
            return latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000
        }
        let complete = receipts.filter { $0.latencies.count == events }.count
        print("")
        print("| subscribers | events | deliveries | elapsed (s) | deliveries/s | p50 (ms) | p99 (ms) | max (ms) |")
        print("|---|---|---|---|---|---|---|---|")
        print(
            String(
                format: "| %d | %d | %d | %.2f | %.0f | %.2f | %.2f | %.2f |",
                subscribers, events, latencies.count, elapsed, Double(latencies.count) / elapsed,
                percentile(0.50), percentile(0.99), (latencies.last ?? .nan) * 1000
            )
        )
        print("subscribers that received every event: \(complete) of \(subscribers)")
        print(
            String(
                format:
                    "latency measured from just before each commit began (its fsync included): p50 %.2f ms, p99 %.2f ms",
                percentile(0.50, of: withCommit), percentile(0.99, of: withCommit)
            )
        )
    }

    /// Subscribes through grpc-swift's client (the way an app would), runs `run` once they are all attached and
    /// collects every subscriber's receipts.
    func grpcSubscribers(
        port: Int, metadata: [(String, String)], request: Classy_Monitoring_V1_StreamSecurityEventsRequest,
        descriptor: MethodDescriptor,
        run: @escaping @Sendable () async throws -> (commitTimes: [UInt64: Double], started: UInt64)
    ) async throws -> (receipts: [Receipts], commitTimes: [UInt64: Double], started: UInt64) {
        let clients = try (0..<connections).map { _ in
            GRPCClient(
                transport: try .http2NIOPosix(
                    target: .dns(host: "127.0.0.1", port: port), transportSecurity: .plaintext))
        }
        var requestMetadata = Metadata()
        for (name, value) in metadata { requestMetadata.addString(value, forKey: name) }
        let expected = events
        let deadline = ContinuousClock.now + .seconds(timeout)
        return try await withThrowingTaskGroup(of: Receipts?.self) { group in
            for client in clients {
                group.addTask {
                    try await client.runConnections(); return nil
                }
            }
            defer { for client in clients { client.beginGracefulShutdown() } }
            for index in 0..<subscribers {
                group.addTask { [requestMetadata] in
                    // Subscribers decode only what they check (sequence and time): the load generator shares the
                    // server's two cores, and full decoding would measure the client rather than the fan-out.
                    try await clients[index % clients.count].serverStreaming(
                        request: ClientRequest(message: request, metadata: requestMetadata),
                        descriptor: descriptor,
                        serializer: ProtobufSerializer<Classy_Monitoring_V1_StreamSecurityEventsRequest>(),
                        deserializer: ReceiptDeserializer(),
                        options: .defaults
                    ) { response in
                        var receipts = Receipts()
                        receipts.latencies.reserveCapacity(expected)
                        receipts.arrivals.reserveCapacity(expected)
                        for try await receipt in response.messages where receipt.sequence != 0 {
                            let now = Date().timeIntervalSince1970
                            receipts.latencies.append(now - receipt.time)
                            receipts.arrivals.append((receipt.sequence, now))
                            receipts.lastReceipt = DispatchTime.now().uptimeNanoseconds
                            if receipts.latencies.count == expected || ContinuousClock.now > deadline { break }
                        }
                        return receipts
                    }
                }
            }
            let (commitTimes, started) = try await run()
            var all: [Receipts] = []
            while let result = try await group.next() {
                guard let result else { continue }
                all.append(result)
                if all.count == subscribers { break }
            }
            return (all, commitTimes, started)
        }
    }

    /// Commits `events` audit entries (with their audit_log events) at `rate` per second, each stamped with the
    /// time just before its commit (the event's `time`); returns when each sequence's commit returned.
    func commitEvents(
        _ store: any ClassyStoreProtocol, deadline: ContinuousClock.Instant
    ) async throws
        -> [UInt64: Double]
    {
        var committedAt: [UInt64: Double] = [:]
        let interval = Double(batch) / rate
        let start = ContinuousClock.now
        var committed = 0
        var round = 0
        while committed < events && ContinuousClock.now < deadline {
            let due = start + .seconds(Double(round) * interval)
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            var effects = StoreEffects()
            for _ in 0..<min(batch, events - committed) {
                effects.auditWithEvent(
                    AuditEntryRecord(
                        action: "bench.fanout", resourceType: "bench", resourceID: "\(committed)",
                        time: Date()
                    )
                )
                committed += 1
            }
            let committedEffects = try await store.commit(effects)
            let now = Date().timeIntervalSince1970
            for event in committedEffects.events { committedAt[event.sequence] = now }
            round += 1
        }
        return committedAt
    }
}

/// What a benchmark subscriber checks of a SecurityEvent: its sequence and time.
struct Receipt: Sendable {
    var sequence: UInt64 = 0
    /// Seconds since 1970.
    var time: Double = 0
}

/// Reads a SecurityEvent's `sequence` (field 1) and `time` (field 2) off the wire and skips the rest.
struct ReceiptDeserializer: MessageDeserializer {
    struct Malformed: Error {}

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Receipt {
        try serializedMessageBytes.withUnsafeBytes { bytes in try Self.receipt(from: bytes) }
    }

    /// The sequence and time of the SecurityEvent serialized in `bytes`.
    static func receipt(from bytes: UnsafeRawBufferPointer) throws -> Receipt {
        var reader = WireReader(bytes: bytes)
        var receipt = Receipt()
        while let (field, wireType) = try reader.tag() {
            switch (field, wireType) {
            case (1, 0): receipt.sequence = try reader.varint()
            case (2, 2):
                var timestamp = WireReader(bytes: try reader.lengthDelimited())
                var seconds: UInt64 = 0
                var nanos: UInt64 = 0
                while let (field, wireType) = try timestamp.tag() {
                    switch (field, wireType) {
                    case (1, 0): seconds = try timestamp.varint()
                    case (2, 0): nanos = try timestamp.varint()
                    default: try timestamp.skip(wireType)
                    }
                }
                receipt.time = Double(Int64(bitPattern: seconds)) + Double(nanos) / 1e9
            default: try reader.skip(wireType)
            }
        }
        return receipt
    }

    /// A cursor over protobuf wire format.
    struct WireReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func tag() throws -> (field: UInt64, wireType: UInt64)? {
            guard offset < bytes.count else { return nil }
            let key = try varint()
            return (key >> 3, key & 7)
        }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count, shift < 64 {
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            throw Malformed()
        }

        mutating func lengthDelimited() throws -> UnsafeRawBufferPointer {
            let length = Int(try varint())
            guard length >= 0, offset + length <= bytes.count else { throw Malformed() }
            defer { offset += length }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        }

        mutating func skip(_ wireType: UInt64) throws {
            switch wireType {
            case 0: _ = try varint()
            case 1: offset += 8
            case 2: _ = try lengthDelimited()
            case 5: offset += 4
            default: throw Malformed()
            }
            guard offset <= bytes.count else { throw Malformed() }
        }
    }
}
