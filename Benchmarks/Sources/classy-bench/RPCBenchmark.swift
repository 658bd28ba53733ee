import ArgumentParser
import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyServer
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import ServiceLifecycle
import SwiftProtobuf
import Synchronization

/// Unary RPC throughput and latency (Health/Check, GetMe, Refresh, Login) against a server, plus the
/// machine's raw Argon2id hash rate, in one run.
struct RPCBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "RPC/s and p50/p99 for Health/Check, GetMe, Refresh and Login, and the raw Argon2id hash rate."
    )

    @Option(
        help:
            "HOST:PORT of a running classy-server (with CLASSY_RATE_LIMIT=off and CLASSY_IP_ALLOW_LIST=127.0.0.1); default: start one in this process."
    )
    var target: String?
    @Option(help: "Seconds per scenario.") var duration: Double = 5
    @Option(help: "Concurrent calls in flight.") var concurrency: Int = 64
    @Option(help: "HTTP/2 connections.") var connections: Int = 4
    @Option(
        help: """
            How the generator calls: raw (gRPC straight on SwiftNIO's HTTP/2, the lightest client) or grpc \
            (grpc-swift's client, as an app would).
            """
    )
    var client: GeneratorClient = .raw
    @Option(help: "Comma-separated scenarios to run (Health,GetMe,Refresh,Login); default: all.")
    var only: String?
    @Option(help: "CIDRs the in-process server never counts nor blocks (to see what the brute-force defence costs).")
    var ipAllowList: String?
    @Option(
        help:
            "Argon2id memory (KiB) of the in-process server's hasher; a tiny value shows what Login costs besides the hash."
    )
    var serverHashKib: UInt32?
    @Option(
        help: """
            Login measurements, each between two raw hash-rate measurements; the ratios of every round and their \
            median are printed (this machine's speed drifts from minute to minute).
            """
    )
    var loginRounds: Int = 1

    func validate() throws {
        guard loginRounds >= 1 else { throw ValidationError("--login-rounds must be at least 1") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        if serverHashKib != nil, loginRounds > 1 {
            throw ValidationError(
                "--login-rounds compares Login with the raw hash rates, which --server-hash-kib skips")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print(
            "classy-bench rpc: \(cores) cores, \(concurrency) \(client.rawValue) calls in flight over \(connections) connections, "
                + "\(duration) s per scenario"
        )
        if let target {
            let parts = target.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else {
                throw ValidationError("--target must be HOST:PORT")
            }
            try await runScenarios(host: String(parts[0]), port: port)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-bench-\(UUID())")
            defer { try? FileManager.default.removeItem(at: directory) }
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.database = .sqlite(path: directory.appendingPathComponent("bench.sqlite").path)
            configuration.rateLimitEnabled = false
            // The load generator stands for a proxy in front of many clients: it sends each worker's own address
            // in x-forwarded-for, so the brute-force defence sees distinct clients as it would in production.
            configuration.trustedProxies = [IPNetwork("127.0.0.1")!]
            configuration.bruteForce.allowList = try (ipAllowList ?? "").split(separator: ",").map { text in
                guard let network = IPNetwork(String(text)) else { throw ValidationError("bad CIDR \(text)") }
                return network
            }
            configuration.adminPassword = "benchmark admin password"
            configuration.maxConcurrentStreams = 1024
            var hasher: (any PasswordHasher)?
            if let serverHashKib {
                hasher = try await Argon2idPasswordHasher(
                    parameters: Argon2Parameters(memoryKiB: serverHashKib, iterations: 1))
            }
            let runtime = try await ClassyServerRuntime(
                configuration: configuration, passwordHasher: hasher, logger: Logger(label: "bench")
            )
            let group = ServiceGroup(services: [runtime], logger: Logger(label: "bench"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let address = try await runtime.listeningAddress
                try await runScenarios(host: "127.0.0.1", port: address.ipv4!.port)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

    /// The raw Argon2id rates Login is compared with.
    struct HashRates {
        /// Hashes per second of one core hashing alone, times the number of cores: the machine's raw capacity.
        var singleCoreTimesCores: Double
        /// Hashes per second with every core hashing at once (they share caches and memory bandwidth).
        var allCores: Double

        /// The mean of two measurements (taken before and after Login, so a drift of the machine's speed
        /// between them does not bias the comparison either way).
        func mean(with other: HashRates) -> HashRates {
            HashRates(
                singleCoreTimesCores: (singleCoreTimesCores + other.singleCoreTimesCores) / 2,
                allCores: (allCores + other.allCores) / 2
            )
        }
    }

    /// Hashes at OWASP parameters in a tight loop on one thread of its own for `seconds`, then on one thread per
    /// core for as long (libargon2 called directly, no pool, no task). Prints the rates, labelled with `when`.
    static func argon2HashRates(seconds: Double, when: String) async throws -> HashRates {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let single = try await rawHashRate(threads: 1, seconds: seconds)
        let all = try await rawHashRate(threads: cores, seconds: seconds)
        print(
            String(
                format:
                    "raw Argon2id (m=19456 KiB, t=2, p=1) %@: %.1f hashes/s on one core (%.1f ms/hash) x %d cores = "
                    + "%.1f/s; %.1f/s with all %d cores hashing at once",
                when, single, 1000 / single, cores, single * Double(cores), all, cores))
        return HashRates(singleCoreTimesCores: single * Double(cores), allCores: all)
    }

    /// Hashes per second of `threads` dedicated threads calling libargon2 back to back for `seconds`.
    static func rawHashRate(threads: Int, seconds: Double) async throws -> Double {
        let deadline = ContinuousClock.now + .seconds(seconds)
        let counts = Mutex<[Int]>([])
        let failure = Mutex<(any Error)?>(nil)
        let finished = DispatchGroup()
        let start = ContinuousClock.now
        for index in 0..<threads {
            finished.enter()
            let thread = Thread {
                var done = 0
                do {
                    while ContinuousClock.now < deadline {
                        _ = try Argon2idPasswordHasher.hashBlocking(
                            "benchmark password \(index)-\(done)", parameters: .owasp)
                        done += 1
                    }
                } catch {
                    failure.withLock { $0 = error }
                }
                counts.withLock { $0.append(done) }
                finished.leave()
            }
            thread.start()
        }
        await withCheckedContinuation { continuation in finished.notify(queue: .global()) { continuation.resume() } }
        if let error = failure.withLock({ $0 }) { throw error }
        return Double(counts.withLock { $0.reduce(0, +) }) / (ContinuousClock.now - start).seconds
    }

    func runScenarios(host: String, port: Int) async throws {
        let clients = try (0..<connections).map { _ in
            GRPCClient(
                transport: try .http2NIOPosix(target: .dns(host: host, port: port), transportSecurity: .plaintext)
            )
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients { group.addTask { try await client.runConnections() } }
            defer {
                for client in clients { client.beginGracefulShutdown() }
            }
            let auth = clients.map { Classy_Auth_V1_AuthService.Client(wrapping: $0) }
            let users = clients.map { Classy_Users_V1_UsersService.Client(wrapping: $0) }
            let health = clients.map { Grpc_Health_V1_Health.Client(wrapping: $0) }

            // One account per worker, each with its own session chain for Refresh.
            let password = "benchmark user password"
            let suffix = UUID().uuidString.prefix(8).lowercased()
            var sessions: [Classy_Auth_V1_Tokens] = []
            for index in 0..<concurrency {
                let response = try await auth[index % connections].register(
                    .with {
                        $0.email = "bench-\(suffix)-\(index)@classy.bench"
                        $0.password = password
                    }
                )
                sessions.append(response.tokens)
            }
            let tokens = sessions.map(\.accessToken)

            // Worker i calls from 10.0.x.y: each worker is one client of the proxy.
            let clientMetadata: [Metadata] = (0..<concurrency).map { worker in
                ["x-forwarded-for": "10.0.\(worker / 250).\(worker % 250 + 1)"]
            }
            let authorizedMetadata: [Metadata] = (0..<concurrency).map { worker in
                var metadata = clientMetadata[worker]
                metadata.addString("Bearer \(tokens[worker])", forKey: "authorization")
                return metadata
            }
            /// The same metadata as name/value pairs for the raw client, converted once.
            func pairs(_ metadata: [Metadata]) -> [[(String, String)]] {
                metadata.map { entries in
                    entries.compactMap { entry in
                        guard case .string(let value) = entry.value else { return nil }
                        return (entry.key, value)
                    }
                }
            }
            let rawClientMetadata = pairs(clientMetadata)
            let rawAuthorizedMetadata = pairs(authorizedMetadata)
            let selected = only.map { Set($0.split(separator: ",").map { $0.lowercased() }) }
            func wanted(_ name: String) -> Bool { selected?.contains(name.lowercased()) ?? true }

            let raw = try await rawConnections(host: host, port: port)
            defer { for connection in raw { connection.channel.close(promise: nil) } }
            /// Measures `scenario` with the selected client.
            func run(_ scenario: Scenario) async throws -> LatencyRecorder.Summary {
                switch client {
                case .raw: try await measureOnEventLoops(scenario, connections: raw, authority: "\(host):\(port)")
                case .grpc: try await measure(scenario.grpc)
                }
            }

            var rows: [String: LatencyRecorder.Summary] = [:]
            // Each Login measurement with the raw hash rates around it.
            var measuredLogins: [LoginRound] = []
            if wanted("Health") {
                let request: [UInt8] = try Grpc_Health_V1_HealthCheckRequest().serializedBytes()
                rows["Health/Check"] = try await run(
                    Scenario(
                        descriptor: Grpc_Health_V1_Health.Method.Check.descriptor, metadata: rawClientMetadata,
                        request: { _ in request },
                        grpc: { worker in
                            _ = try await health[worker % connections].check(.init(), metadata: clientMetadata[worker])
                        }
                    ))
            }
            if wanted("GetMe") {
                let request: [UInt8] = try Classy_Users_V1_GetMeRequest().serializedBytes()
                rows["GetMe"] = try await run(
                    Scenario(
                        descriptor: Classy_Users_V1_UsersService.Method.GetMe.descriptor,
                        metadata: rawAuthorizedMetadata, request: { _ in request },
                        grpc: { worker in
                            _ = try await users[worker % connections].getMe(
                                .init(), metadata: authorizedMetadata[worker])
                        }
                    ))
            }
            if wanted("Refresh") {
                let chains = RefreshChains(sessions.map(\.refreshToken))
                @Sendable func request(_ worker: Int) -> Classy_Auth_V1_RefreshRequest {
                    .with { $0.refreshToken = chains[worker] }
                }
                rows["Refresh"] = try await run(
                    Scenario(
                        descriptor: Classy_Auth_V1_AuthService.Method.Refresh.descriptor, metadata: rawClientMetadata,
                        request: { worker in try request(worker).serializedBytes() },
                        response: { worker, bytes in
                            let next = try Classy_Auth_V1_RefreshResponse(
                                serializedBytes: Array(bytes.readableBytesView))
                            chains[worker] = next.tokens.refreshToken
                        },
                        grpc: { worker in
                            let next = try await auth[worker % connections].refresh(
                                request(worker), metadata: clientMetadata[worker])
                            chains[worker] = next.tokens.refreshToken
                        }
                    ))
            }
            if wanted("Login") {
                let requests = (0..<concurrency).map { worker in
                    Classy_Auth_V1_LoginRequest.with {
                        $0.email = "bench-\(suffix)-\(worker)@classy.bench"
                        $0.password = password
                    }
                }
                let serialized: [[UInt8]] = try requests.map { try $0.serializedBytes() }
                let scenario = Scenario(
                    descriptor: Classy_Auth_V1_AuthService.Method.Login.descriptor, metadata: rawClientMetadata,
                    request: { worker in serialized[worker] },
                    grpc: { worker in
                        _ = try await auth[worker % connections].login(
                            requests[worker], metadata: clientMetadata[worker])
                    }
                )
                if serverHashKib != nil {
                    // With a tiny server hash the ratio means nothing: skip the raw rates.
                    rows["Login"] = try await run(scenario)
                } else {
                    var before = try await Self.argon2HashRates(seconds: duration, when: "before Login")
                    for round in 1...loginRounds {
                        let summary = try await run(scenario)
                        let after = try await Self.argon2HashRates(
                            seconds: duration,
                            when: round == loginRounds ? "after Login" : "after Login round \(round)")
                        measuredLogins.append(LoginRound(summary: summary, hashRates: before.mean(with: after)))
                        before = after
                    }
                    rows["Login"] = LoginRound.median(of: measuredLogins).summary
                }
            }
            print("")
            print("| RPC | calls | failures | RPC/s | p50 ms | p99 ms | CPU µs/call |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name in ["Health/Check", "GetMe", "Refresh", "Login"] {
                guard let row = rows[name] else { continue }
                print(
                    String(
                        format: "| %@ | %d | %d | %.0f | %.2f | %.2f | %.0f |", name, row.calls, row.failures,
                        row.perSecond, row.p50, row.p99, row.cpuMicrosecondsPerCall))
            }
            print("")
            if let health = rows["Health/Check"], let getMe = rows["GetMe"] {
                print(
                    String(
                        format: "GetMe / Health: %.0f %% (target >= 70 %%)", 100 * getMe.perSecond / health.perSecond))
            }
            if !measuredLogins.isEmpty {
                for line in LoginRound.report(measuredLogins) { print(line) }
            }
            if let refresh = rows["Refresh"] {
                print(String(format: "Refresh: %.0f/s (target >= 2,000/s)", refresh.perSecond))
            }
        }
    }

    /// The raw generator's connections (none when grpc-swift's client makes the calls).
    func rawConnections(host: String, port: Int) async throws -> [UnaryFrameClient] {
        guard client == .raw else { return [] }
        var connections: [UnaryFrameClient] = []
        for _ in 0..<self.connections {
            connections.append(try await UnaryFrameClient.connect(host: host, port: port))
        }
        return connections
    }

    /// Runs `scenario` with the raw client from `concurrency` workers for `duration` seconds, each worker a chain of
    /// calls driven on its connection's event loop: the next call starts in the callback of the last one's answer,
    /// so the generator never hops to a task (the event loop is awake for the answer anyway).
    func measureOnEventLoops(
        _ scenario: Scenario, connections: [UnaryFrameClient], authority: String
    ) async throws -> LatencyRecorder.Summary {
        let recorder = LatencyRecorder()
        let deadline = NIODeadline.now() + .nanoseconds(Int64(duration * 1e9))
        let path = "/" + scenario.descriptor.fullyQualifiedMethod
        let headers = (0..<concurrency).map { worker in
            UnaryFrameClient.headers(authority: authority, path: path, metadata: scenario.metadata[worker])
        }
        let start = ContinuousClock.now
        let cpuAtStart = processCPUSeconds()
        var workers: [EventLoopFuture<Void>] = []
        for worker in 0..<concurrency {
            let connection = connections[worker % connections.count]
            let loop = connection.channel.eventLoop
            let done = loop.makePromise(of: Void.self)
            @Sendable func next() {
                let begin = NIODeadline.now()
                guard begin < deadline else { return done.succeed() }
                let message: [UInt8]
                do {
                    message = try scenario.request(worker)
                } catch {
                    return done.fail(error)
                }
                connection.unary(headers: headers[worker], message: message).whenComplete { result in
                    switch result {
                    case .success(let bytes):
                        do {
                            try scenario.response(worker, bytes)
                            recorder.record(Double((NIODeadline.now() - begin).nanoseconds) / 1e9)
                        } catch {
                            recorder.fail()
                        }
                        next()
                    case .failure:
                        recorder.fail()
                        // A call can fail before it is sent (a closed connection): the next one starts from the
                        // event loop, not from this callback, so failures cannot nest.
                        loop.execute { next() }
                    }
                }
            }
            loop.execute { next() }
            workers.append(done.futureResult)
        }
        for worker in workers { try await worker.get() }
        return recorder.summary(
            elapsed: (ContinuousClock.now - start).seconds, cpuSeconds: processCPUSeconds() - cpuAtStart)
    }

    /// Runs `call` from `concurrency` workers for `duration` seconds.
    func measure(_ call: @escaping @Sendable (Int) async throws -> Void) async throws -> LatencyRecorder.Summary {
        let recorder = LatencyRecorder()
        let deadline = ContinuousClock.now + .seconds(duration)
        let start = ContinuousClock.now
        let cpuAtStart = processCPUSeconds()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        let begin = ContinuousClock.now
                        do {
                            try await call(worker)
                            recorder.record((ContinuousClock.now - begin).seconds)
                        } catch {
                            recorder.fail()
                        }
                    }
                }
            }
        }
        return recorder.summary(
            elapsed: (ContinuousClock.now - start).seconds, cpuSeconds: processCPUSeconds() - cpuAtStart)
    }
}

/// The current refresh token of each worker's session.
final class RefreshChains: Sendable {
    private let tokens: Mutex<[String]>
    init(_ tokens: [String]) { self.tokens = Mutex(tokens) }
    subscript(worker: Int) -> String {
        get { tokens.withLock { $0[worker] } }
        set { tokens.withLock { $0[worker] = newValue } }
    }
}

/// One scenario's call as each generator client makes it.
struct Scenario: Sendable {
    /// The method called.
    var descriptor: MethodDescriptor
    /// Each worker's metadata, as the raw client sends it.
    var metadata: [[(String, String)]]
    /// Worker i's serialized request (raw client).
    var request: @Sendable (_ worker: Int) throws -> [UInt8]
    /// Reads worker i's serialized response (raw client); throwing counts the call as failed.
    var response: @Sendable (_ worker: Int, _ bytes: ByteBuffer) throws -> Void = { _, _ in }
    /// Worker i's call through grpc-swift's client.
    var grpc: @Sendable (_ worker: Int) async throws -> Void
}
