import ClassyAPI
import ClassyAuth
import ClassyCore
import ClassyStore
import Foundation
import GRPCCore
import Logging
import Synchronization

/// Second in the pipeline: refuses every RPC (Health excepted) from a blocked client IP with
/// PERMISSION_DENIED / IP_BLOCKED, with RetryInfo unless the block is permanent.
///
/// Blocks come from the in-memory ``IPBlockCache``, so the check costs no store read. A refused Login is recorded
/// as a login attempt (reason IP_BLOCKED, not counted). After a Login fails, the interceptor re-reads the block
/// of that client's IP key before answering, so a block made by that failure refuses the client's very next RPC.
struct IPBlockInterceptor: ServerInterceptor {
    let blocks: IPBlockCache
    let refusals: LoginRefusalRecorder
    let clock: any WallClock

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard let policy = RPCPolicies.policy(for: context.descriptor), policy.rateLimit != .unlimited,
            let clientIP = RequestContext.current?.clientIP
        else {
            return try await next(request, context)
        }
        let isLogin = context.descriptor == Classy_Auth_V1_AuthService.Method.Login.descriptor
        if let block = blocks.block(for: clientIP) {
            if isLogin {
                await refusals.record(request, clientIP: clientIP, reason: .ipBlocked)
            }
            throw LoginGuard.ipBlockedError(block, now: clock.now())
        }
        guard isLogin else { return try await next(request, context) }
        do {
            let response = try await next(request, context)
            if case .failure = response.accepted { await blocks.refresh(clientIP: clientIP) }
            return response
        } catch {
            await blocks.refresh(clientIP: clientIP)
            throw error
        }
    }
}

/// Records Login attempts refused by the request path (IP blocked, rate limited), reading the email from the
/// Login request message; they never count toward locks or blocks.
struct LoginRefusalRecorder: Sendable {
    let loginGuard: LoginGuard
    let logger: Logger

    /// Reads the Login message of `request` and records the refused attempt; failures are logged, not thrown
    /// (the RPC is refused either way).
    func record<Input: Sendable>(
        _ request: StreamingServerRequest<Input>,
        clientIP: String,
        reason: Classy_Monitoring_V1_FailureReason
    ) async {
        do {
            var messages = request.messages.makeAsyncIterator()
            guard let login = try await messages.next() as? Classy_Auth_V1_LoginRequest else { return }
            let context = LoginContext(
                email: Self.bounded(FieldValidator.normaliseEmail(login.email), max: 254),
                ipAddress: clientIP,
                userAgent: Self.bounded(login.client.userAgent, max: 512),
                deviceName: Self.bounded(login.client.deviceName, max: 200)
            )
            try await loginGuard.recordRefusal(context, reason: reason)
        } catch {
            logger.warning("could not record a refused login", metadata: ["error": "\(error)"])
        }
    }

    /// At most `max` characters, control characters removed (the text comes from an unvalidated request).
    static func bounded(_ text: String, max: Int) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.lazy.filter { !FieldValidator.isControl($0) }).prefix(max))
    }
}

/// The IP blocks in force, held in memory for the request path.
///
/// Loaded at start, then reloaded whenever an `ip_blocked` or `ip_unblocked` event is committed (``run(hub:)``
/// follows the event hub), so a lifted block is served late by at most the commit wake-up plus one store read.
/// Expiry needs no reload: each block keeps its end and is checked against the clock. MonitoringService's
/// BlockIP and UnblockIP reload before they answer, and a failed Login re-reads its client's key (``refresh(clientIP:)``),
/// so on this replica their effect is visible to the very next RPC. Allow-listed addresses are never blocked.
final class IPBlockCache: Sendable {
    private struct Snapshot {
        /// Single-address blocks by canonical address, and IPv6 /64 blocks by network text.
        var exact: [String: BlockedIPRecord] = [:]
        /// Other ranges.
        var ranges: [(network: IPNetwork, block: BlockedIPRecord)] = []

        init(_ blocks: [BlockedIPRecord] = []) {
            for block in blocks { insert(block) }
        }

        mutating func insert(_ block: BlockedIPRecord) {
            guard let network = IPNetwork(block.ipAddress) else { return }
            if network.isSingleAddress || (!network.address.isIPv4 && network.prefixLength == 64) {
                exact[network.description] = IPBlockCache.stronger(exact[network.description], block)
            } else {
                ranges.append((network, block))
            }
        }

        mutating func set(key: String, to block: BlockedIPRecord?) {
            exact[key] = block
        }

        func block(for address: IPAddress, now: Date) -> BlockedIPRecord? {
            var found: BlockedIPRecord?
            if let block = exact[address.description], block.isActive(at: now) { found = block }
            if !address.isIPv4, let block = exact[IPNetwork.blockKey(for: address).description], block.isActive(at: now)
            {
                found = IPBlockCache.stronger(found, block)
            }
            for (network, block) in ranges where network.contains(address) && block.isActive(at: now) {
                found = IPBlockCache.stronger(found, block)
            }
            return found
        }
    }

    private struct State {
        var snapshot = Snapshot()
        /// Bumped by every single-key refresh.
        var generation: UInt64 = 0
        /// Full reloads reading the store right now.
        var reloading = 0
        /// Single-key refreshes made while a full reload was reading (they are newer than its snapshot).
        var refreshed: [String: (block: BlockedIPRecord?, generation: UInt64)] = [:]
    }

    private let store: any ClassyStoreProtocol
    private let clock: any WallClock
    private let policy: BruteForcePolicy
    private let logger: Logger
    private let state = Mutex(State())

    init(store: any ClassyStoreProtocol, clock: any WallClock, policy: BruteForcePolicy, logger: Logger) {
        self.store = store
        self.clock = clock
        self.policy = policy
        self.logger = logger
    }

    /// The block in force for a client IP, if any (nil for allow-listed or unparsable addresses).
    func block(for clientIP: String) -> BlockedIPRecord? {
        guard let address = IPAddress(clientIP), !policy.isAllowListed(address) else { return nil }
        let now = clock.now()
        return state.withLock { $0.snapshot.block(for: address, now: now) }
    }

    /// Reads every block in force from the store.
    func reload() async throws {
        let started = state.withLock { state in
            state.reloading += 1
            return state.generation
        }
        let blocks: [BlockedIPRecord]
        do {
            blocks = try await store.activeBlocks(now: clock.now())
        } catch {
            state.withLock { state in
                state.reloading -= 1
                if state.reloading == 0 { state.refreshed.removeAll() }
            }
            throw error
        }
        state.withLock { state in
            var snapshot = Snapshot(blocks)
            // A key re-read after this reload's read began is newer than the snapshot.
            for (key, entry) in state.refreshed where entry.generation > started {
                snapshot.set(key: key, to: entry.block)
            }
            state.reloading -= 1
            if state.reloading == 0 { state.refreshed.removeAll() }
            state.snapshot = snapshot
        }
    }

    /// Re-reads the automatic block of one client's IP key (after a failed Login, which may have made one).
    func refresh(clientIP: String) async {
        guard let address = IPAddress(clientIP), !policy.isAllowListed(address) else { return }
        let key = BruteForcePolicy.ipKey(for: address)
        do {
            let block = try await store.activeBlock(ipAddress: key, now: clock.now())
            state.withLock { state in
                state.generation += 1
                if state.reloading > 0 { state.refreshed[key] = (block, state.generation) }
                state.snapshot.set(key: key, to: block)
            }
        } catch {
            logger.warning("could not re-read an IP block", metadata: ["ip": "\(key)", "error": "\(error)"])
        }
    }

    /// Reloads on every committed block change until the hub finishes or the task is cancelled.
    func run(hub: EventHub) async throws {
        while !Task.isCancelled {
            // Follow changes from a position read before the blocks are, so none committed in between is missed.
            let position = try await latestSequenceRetrying()
            let changes = hub.subscribe(after: position, types: [.ipBlocked, .ipUnblocked])
            try await reloadRetrying()
            do {
                for try await _ in changes {
                    try await reloadRetrying()
                }
                return
            } catch let error as ClassyError where error.code == .streamOverflow {
                continue
            }
        }
    }

    private func latestSequenceRetrying() async throws -> UInt64 {
        var delay = Duration.milliseconds(50)
        while true {
            do {
                return try await store.latestEventSequence()
            } catch {
                try Task.checkCancellation()
                logger.warning("could not read the event log", metadata: ["error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    private func reloadRetrying() async throws {
        var delay = Duration.milliseconds(50)
        while true {
            do {
                return try await reload()
            } catch {
                try Task.checkCancellation()
                logger.warning("could not load IP blocks", metadata: ["error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// The block that refuses longer: permanent first, then the later end.
    static func stronger(_ a: BlockedIPRecord?, _ b: BlockedIPRecord) -> BlockedIPRecord {
        guard let a else { return b }
        if a.permanent { return a }
        if b.permanent { return b }
        return (a.blockedUntil ?? .distantPast) >= (b.blockedUntil ?? .distantPast) ? a : b
    }
}
