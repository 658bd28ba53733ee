import ClassyAPI
import ClassyCore
import Foundation
import GRPCCore
import Synchronization

/// Third in the pipeline: token buckets per client IP (IPv6 by /64) and rate-limit family
/// (``RateLimitFamily``), checked before authentication and before the request is validated.
///
/// An RPC over its bucket answers RESOURCE_EXHAUSTED / RATE_LIMITED with RetryInfo (when the next token
/// arrives); a refused Login is recorded as a login attempt (reason RATE_LIMITED, not counted). Health is never
/// limited. `CLASSY_RATE_LIMIT=off` leaves this interceptor out of the pipeline.
struct RateLimitInterceptor: ServerInterceptor {
    let limiter: RateLimiter
    let refusals: LoginRefusalRecorder

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
        if let wait = limiter.acquire(clientIP: clientIP, family: policy.rateLimit) {
            if context.descriptor == Classy_Auth_V1_AuthService.Method.Login.descriptor {
                await refusals.record(request, clientIP: clientIP, reason: .rateLimited)
            }
            throw ClassyError(
                .rateLimited, "too many requests from this address: slow down",
                retryAfter: .milliseconds(Int64((wait * 1000).rounded(.up)))
            )
        }
        return try await next(request, context)
    }
}

/// Token buckets keyed by client IP key and rate-limit family.
///
/// Each bucket holds up to `burst` tokens and gains `rate` per second of the injected clock; an RPC takes one.
/// Buckets that have filled up again are forgotten once there are more than `maxTrackedKeys`, so memory stays
/// bounded by the clients active within a burst's refill time.
public final class RateLimiter: Sendable {
    /// One family's bucket size and refill rate.
    public struct Bucket: Sendable, Hashable {
        /// Tokens gained per second.
        public var rate: Double
        /// Tokens a bucket holds (the burst allowed after a quiet period).
        public var burst: Double

        /// Creates a bucket shape.
        public init(rate: Double, burst: Double) {
            self.rate = rate
            self.burst = burst
        }
    }

    /// The buckets of each family (API.md defaults).
    public struct Limits: Sendable, Hashable {
        /// Register, Login, Refresh, IssueServiceToken: 10/s, burst 30.
        public var credentials = Bucket(rate: 10, burst: 30)
        /// Every other RPC but Health: 100/s, burst 200.
        public var standard = Bucket(rate: 100, burst: 200)

        /// Creates limits with the defaults.
        public init() {}

        func bucket(_ family: RateLimitFamily) -> Bucket? {
            switch family {
            case .credentials: credentials
            case .standard: standard
            case .unlimited: nil
            }
        }
    }

    private struct Key: Hashable {
        var ip: String
        var family: RateLimitFamily
    }

    private struct Tokens {
        var available: Double
        var updated: Date
    }

    private let limits: Limits
    private let clock: any WallClock
    private let maxTrackedKeys: Int
    private let buckets = Mutex([Key: Tokens]())

    /// Creates a limiter.
    public init(limits: Limits = Limits(), clock: any WallClock = SystemWallClock(), maxTrackedKeys: Int = 100_000) {
        self.limits = limits
        self.clock = clock
        self.maxTrackedKeys = maxTrackedKeys
    }

    /// Takes a token for the client; returns nil when one was available, or the seconds until one will be.
    public func acquire(clientIP: String, family: RateLimitFamily) -> TimeInterval? {
        guard let bucket = limits.bucket(family), bucket.rate > 0 else { return nil }
        let ip = IPAddress(clientIP).map(BruteForcePolicy.ipKey(for:)) ?? clientIP
        let key = Key(ip: ip, family: family)
        let now = clock.now()
        return buckets.withLock { buckets in
            var tokens = buckets[key] ?? Tokens(available: bucket.burst, updated: now)
            let elapsed = max(0, now.timeIntervalSince(tokens.updated))
            tokens.available = min(bucket.burst, tokens.available + elapsed * bucket.rate)
            tokens.updated = now
            guard tokens.available >= 1 else {
                buckets[key] = tokens
                return (1 - tokens.available) / bucket.rate
            }
            tokens.available -= 1
            if buckets[key] == nil && buckets.count >= maxTrackedKeys {
                forgetFullBuckets(&buckets, now: now)
            }
            buckets[key] = tokens
            return nil
        }
    }

    /// How many buckets are tracked.
    public var trackedKeys: Int { buckets.withLock { $0.count } }

    private func forgetFullBuckets(_ buckets: inout [Key: Tokens], now: Date) {
        buckets = buckets.filter { key, tokens in
            guard let bucket = limits.bucket(key.family) else { return false }
            return tokens.available + max(0, now.timeIntervalSince(tokens.updated)) * bucket.rate < bucket.burst
        }
    }
}
