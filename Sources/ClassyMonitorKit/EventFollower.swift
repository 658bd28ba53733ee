import ClassyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

/// One security event of the stream.
public typealias SecurityEvent = Classy_Monitoring_V1_SecurityEvent

/// Opens one StreamSecurityEvents call (a seam: tests substitute a scripted source).
public protocol SecurityEventSource: Sendable {
    /// Runs one stream: `connected` once the server accepted it, `event` per message in order; returns when the
    /// server ends the stream, throws when it fails.
    func stream(
        _ request: Classy_Monitoring_V1_StreamSecurityEventsRequest,
        token: String,
        connected: @escaping @Sendable () -> Void,
        event: @escaping @Sendable (SecurityEvent) async throws -> Void
    ) async throws
}

/// StreamSecurityEvents over a gRPC client.
public struct GRPCSecurityEventSource: SecurityEventSource {
    let monitoring: Classy_Monitoring_V1_MonitoringService.Client<HTTP2ClientTransport.Posix>

    /// A source calling the server `client` is connected to.
    public init(client: GRPCClient<HTTP2ClientTransport.Posix>) {
        monitoring = .init(wrapping: client)
    }

    /// Opens StreamSecurityEvents with `token`, failing fast (no wait for ready) when the server is down.
    public func stream(
        _ request: Classy_Monitoring_V1_StreamSecurityEventsRequest,
        token: String,
        connected: @escaping @Sendable () -> Void,
        event: @escaping @Sendable (SecurityEvent) async throws -> Void
    ) async throws {
        var options = CallOptions.defaults
        // Fail fast while the server is down: the follower's own backoff decides when to try again, and says so.
        options.waitForReady = false
        try await monitoring.streamSecurityEvents(
            request,
            metadata: ["authorization": "Bearer \(token)"],
            options: options
        ) { response in
            if case .failure(let error) = response.accepted { throw error }
            connected()
            for try await message in response.messages {
                try await event(message)
            }
        }
    }
}

/// What the follower is doing, for the status line and the dashboard.
public enum FollowerStatus: Sendable, Hashable {
    /// Opening a stream (attempt number, 0-based, since the last successful connection).
    case connecting(attempt: Int)
    /// The stream is open; events flow.
    case connected
    /// The stream failed or ended; the next attempt starts after `delay`.
    case reconnecting(attempt: Int, delay: Duration, reason: String)
    /// Getting a new access token.
    case renewingToken
}

/// An error thrown by the code that consumes events (writing stdout, saving the state): never retried.
public struct DeliveryError: Error, Sendable {
    /// What the consumer threw.
    public var underlying: any Error
}

/// Follows StreamSecurityEvents across disconnects: reconnects with jittered exponential backoff, renews the token
/// when it expires, and resumes after the last delivered sequence so no event is missed or repeated.
///
/// Guarantees: `deliver` sees persisted events (sequence > 0) in strictly increasing sequence order, each once;
/// the cursor advances only after `deliver` returned. Heartbeats and metrics (sequence 0) are passed through.
/// A live-only start (no cursor) has no position until the first persisted event arrives; a disconnect before then
/// resumes live-only.
public struct EventFollower: Sendable {
    /// Where streams come from.
    public var source: any SecurityEventSource
    /// The access tokens sent.
    public var tokens: TokenProvider
    /// The event types asked for (empty: all).
    public var types: [Classy_Monitoring_V1_SecurityEventType]
    /// Metrics snapshot interval asked of the server (nil: none).
    public var metricsInterval: Duration?
    /// The waits between attempts.
    public var backoff: Backoff
    /// Stop with an `unreachable` failure after this long without a connection (nil: retry forever).
    public var giveUpAfter: Duration?
    /// Told about each change of connection status.
    public var status: @Sendable (FollowerStatus) -> Void
    /// Waits between attempts (a seam for tests).
    public var sleep: @Sendable (Duration) async throws -> Void
    /// The random unit for the backoff jitter (a seam for tests).
    public var random: @Sendable () -> Double

    /// A follower; the defaults are the production backoff, clock and randomness.
    public init(
        source: any SecurityEventSource,
        tokens: TokenProvider,
        types: [Classy_Monitoring_V1_SecurityEventType] = [],
        metricsInterval: Duration? = nil,
        backoff: Backoff = Backoff(),
        giveUpAfter: Duration? = nil,
        status: @escaping @Sendable (FollowerStatus) -> Void = { _ in },
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.source = source
        self.tokens = tokens
        self.types = types
        self.metricsInterval = metricsInterval
        self.backoff = backoff
        self.giveUpAfter = giveUpAfter
        self.status = status
        self.sleep = sleep
        self.random = random
    }

    private struct Progress {
        var cursor: UInt64?
        var connected = false
    }

    /// Follows the stream after `cursor` (nil: live only) until cancelled (returns the last delivered sequence) or a
    /// fatal failure (throws `MonitorFailure`, or the `DeliveryError` of `deliver`).
    @discardableResult
    public func run(
        after cursor: UInt64?,
        deliver: @escaping @Sendable (SecurityEvent) async throws -> Void
    ) async throws -> UInt64? {
        let progress = Locked(Progress(cursor: cursor))
        var attempt = 0
        var renewedWithoutConnecting = false
        var forceRenew = false
        var disconnectedSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            var retryHint: Duration?
            let reason: String
            do {
                if forceRenew { status(.renewingToken) }
                let token: String
                do {
                    token = try await tokens.token(forceRenew: forceRenew)
                } catch {
                    // Server down while signing in: retry like a stream failure. Anything else (wrong password,
                    // locked account) is final.
                    guard case .retry = MonitorFailure.disposition(of: error) else {
                        throw MonitorFailure(error, operation: "sign-in")
                    }
                    throw error
                }
                forceRenew = false
                var request = Classy_Monitoring_V1_StreamSecurityEventsRequest()
                request.types = types
                if let after = progress.withLock({ $0.cursor }) { request.afterSequence = after }
                if let metricsInterval {
                    request.metricsInterval = .init(seconds: Int64(metricsInterval.components.seconds))
                }
                progress.withLock { $0.connected = false }
                status(.connecting(attempt: attempt))
                let status = self.status
                try await source.stream(
                    request,
                    token: token,
                    connected: {
                        progress.withLock { $0.connected = true }
                        status(.connected)
                    },
                    event: { event in
                        if event.sequence > 0, let last = progress.withLock({ $0.cursor }), event.sequence <= last {
                            return  // already delivered (a replay overlapping what we saw): never repeat
                        }
                        do {
                            try await deliver(event)
                        } catch {
                            throw DeliveryError(underlying: error)
                        }
                        if event.sequence > 0 { progress.withLock { $0.cursor = event.sequence } }
                    }
                )
                reason = "the server ended the stream"
            } catch is CancellationError {
                break
            } catch let error as DeliveryError {
                throw error
            } catch let error as MonitorFailure {
                throw error
            } catch {
                if Task.isCancelled { break }
                switch MonitorFailure.disposition(of: error) {
                case .fatal(let failure):
                    throw failure
                case .renewToken:
                    let connected = progress.withLock { $0.connected }
                    if connected { renewedWithoutConnecting = false }
                    guard tokens.credentials.isRenewable else {
                        var failure = MonitorFailure(error, operation: "StreamSecurityEvents")
                        failure.message +=
                            " (a CLASSY_TOKEN cannot be renewed: use --email or --client-id for long watches)"
                        throw failure
                    }
                    guard !renewedWithoutConnecting else {
                        throw MonitorFailure(error, operation: "StreamSecurityEvents")
                    }
                    renewedWithoutConnecting = true
                    forceRenew = true
                    attempt = 0
                    continue
                case .retry(let hint):
                    retryHint = hint
                    reason = Self.describe(error)
                }
            }
            if progress.withLock({ $0.connected }) {
                attempt = 0
                renewedWithoutConnecting = false
                disconnectedSince = nil
            }
            let now = ContinuousClock.now
            if disconnectedSince == nil { disconnectedSince = now }
            if let giveUpAfter, let since = disconnectedSince, now - since >= giveUpAfter {
                throw MonitorFailure(.unreachable, "cannot reach the server: \(reason) (gave up after \(giveUpAfter))")
            }
            var delay = backoff.delay(attempt: attempt, unit: random())
            if let retryHint, retryHint > delay { delay = retryHint }
            status(.reconnecting(attempt: attempt + 1, delay: delay, reason: reason))
            attempt += 1
            do {
                try await sleep(delay)
            } catch {
                break
            }
        }
        return progress.withLock { $0.cursor }
    }

    /// A short human description of a stream failure.
    static func describe(_ error: any Error) -> String {
        guard let rpc = error as? RPCError else { return "\(error)" }
        let details = ServerErrorDetails(rpc)
        if let reason = details.reason { return "\(reason): \(details.message)" }
        switch rpc.code {
        case .unavailable:
            // The transport's own wording is long; say what it means for the operator.
            if details.message.contains("establish a connection") || details.message.contains("transient failure") {
                return "cannot connect"
            }
            return "connection lost"
        default: return "\(rpc.code): \(details.message)"
        }
    }
}
