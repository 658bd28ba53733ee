import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation
import Logging
import Synchronization

/// Who is trying to log in, as the brute-force defence sees it.
///
/// Pass the same value to ``LoginGuard/admit(_:)`` and then to ``LoginGuard/recordFailure(_:reason:userID:)``
/// or ``LoginGuard/recordSuccess(_:session:effects:newDeviceNotification:)``: it carries what admission counted to the outcome.
public struct LoginContext: Sendable {
    /// The normalised email tried.
    public var email: String
    /// The client IP.
    public var ipAddress: String
    /// The client's user agent.
    public var userAgent: String
    /// The client's device name.
    public var deviceName: String
    /// What ``LoginGuard/admit(_:)`` counted for this attempt (shared by copies of the context).
    let admission = LoginAdmission()

    public init(email: String, ipAddress: String, userAgent: String, deviceName: String) {
        self.email = email
        self.ipAddress = ipAddress
        self.userAgent = userAgent
        self.deviceName = deviceName
    }
}

/// The counts taken for one attempt by ``LoginGuard/admit(_:)``, read back when its outcome is recorded.
final class LoginAdmission: Sendable {
    /// The failure counters of one admitted attempt.
    struct Counted: Sendable {
        /// The normalised email.
        var email: String
        /// Failures of the email within its window, this attempt included.
        var emailFailures: Int
        /// The email's lock record as it was at admission.
        var previousLock: AccountLockRecord?
        /// The IP counting state, `nil` when the IP is not counted (allow-listed or not an address).
        var ip: IPCounters?
        /// The email's account as the pre-count read it (`.some(nil)`: no such account), `nil` once it may be
        /// out of date (the attempt waited at admission).
        var account: UserRecord??
    }

    /// Where an IP key's failures and successes are counted.
    struct IPCounters: Sendable {
        /// The IP key (IPv4 address or IPv6 /64).
        var key: String
        /// Failures (pre-counted attempts minus successes) within the window, this attempt included.
        var failures: Int
        /// The store key of pre-counted attempts in this block epoch.
        var attemptsKey: String
        /// The store key of successes (which un-count their pre-counted attempt) in this block epoch.
        var successesKey: String
        /// The number of blocks the key ever had when this attempt was counted.
        var epoch: Int
    }

    private struct State {
        var counted: Counted?
        /// Set once the attempt was recorded (refused at admission, failed or succeeded).
        var settled = false
        /// The in-flight registration of the attempt's IP key, until it ends.
        var inFlight: (registry: InFlightLogins, key: String)?
    }

    private let state = Mutex(State())

    var counted: Counted? { state.withLock { $0.counted } }

    /// The email's account as admission read it, `nil` when it did not or the read may be out of date.
    var account: UserRecord?? { state.withLock { $0.counted?.account } }

    func admitted(_ counted: Counted) {
        state.withLock { $0.counted = counted }
    }

    /// Registers the attempt as in flight on its IP key.
    func beginInFlight(_ registry: InFlightLogins, key: String) {
        registry.begin(key)
        state.withLock { $0.inFlight = (registry, key) }
    }

    /// Takes the attempt out of its key's in-flight count while it waits; returns its place among the waiters.
    func suspendInFlight() -> Int? {
        guard let registration = state.withLock({ $0.inFlight }) else { return nil }
        return registration.registry.suspend(registration.key)
    }

    /// Puts the attempt back in its key's in-flight count after a wait.
    func resumeInFlight() {
        guard let registration = state.withLock({ $0.inFlight }) else { return }
        registration.registry.resume(registration.key)
    }

    /// Ends the in-flight registration (once; later calls do nothing); returns how many other attempts of this
    /// process are still in flight on the key.
    @discardableResult
    func endInFlight() -> Int {
        let registration = state.withLock { state in
            defer { state.inFlight = nil }
            return state.inFlight
        }
        return registration.map { $0.registry.end($0.key) } ?? 0
    }

    /// Marks the attempt recorded; returns false if it already was.
    func settle() -> Bool {
        state.withLock { state in
            defer { state.settled = true }
            return !state.settled
        }
    }
}

/// Applies the brute-force policy around Login and records every attempt with its security event.
///
/// Login calls ``admit(_:)`` before it looks at the password, then exactly one of
/// ``recordFailure(_:reason:userID:)`` or ``recordSuccess(_:session:effects:newDeviceNotification:)``. If ``admit(_:)`` throws, the
/// refused attempt is already recorded (a later ``recordFailure(_:reason:userID:)`` with the same context does
/// nothing).
///
/// Counting happens before the password check and atomically in the store, so N concurrent wrong guesses get N
/// distinct counts: only those within the threshold reach the password check, the attempt that reaches it locks
/// the email (or blocks the IP key) when it fails, and the rest are refused unchecked. Failures are counted per
/// normalised email and per IP key (IPv4 address, IPv6 /64; allow-listed addresses are not counted):
/// - a success resets the email's counter and un-counts its IP attempt (the store keeps a success counter
///   beside the IP's attempt counter: failures = attempts - successes);
/// - a lock resets the email's counter, so each lock period starts with a full allowance again;
/// - the IP counters are keyed by the number of blocks the key ever had, so a new block (automatic or manual)
///   starts them afresh and failures from before a lifted or expired block never count again.
/// Refused attempts (locked, blocked, rate limited) are recorded without counting; only when concurrent
/// attempts race past a threshold can a refused one leave its pre-counted failure behind.
public struct LoginGuard: Sendable {
    let store: any ClassyStoreProtocol
    let clock: any WallClock
    /// The thresholds, windows, escalation and allow-list applied.
    public let policy: BruteForcePolicy
    let logger: Logger
    /// This process's attempts whose outcome is not recorded yet (shared by copies of the guard).
    let inFlight = InFlightLogins()
    /// How long an attempt waits for in-flight attempts from its address before it is refused.
    let inFlightWait: Duration

    /// Creates a guard.
    ///
    /// - Parameters:
    ///   - store: where counters, locks, blocks and attempts live.
    ///   - clock: the wall clock.
    ///   - policy: the brute-force policy (DESIGN.md defaults).
    ///   - logger: where locks and blocks are logged.
    ///   - inFlightWait: how long an attempt over the IP limit only because of this process's attempts still
    ///     being checked waits for them to end before it is refused.
    public init(
        store: any ClassyStoreProtocol,
        clock: any WallClock,
        policy: BruteForcePolicy = BruteForcePolicy(),
        logger: Logger = Logger(label: "classy.auth.login-guard"),
        inFlightWait: Duration = .seconds(10)
    ) {
        self.store = store
        self.clock = clock
        self.policy = policy
        self.logger = logger
        self.inFlightWait = inFlightWait
    }

    /// Lets an attempt proceed to the password check, or refuses it.
    ///
    /// Throws PERMISSION_DENIED / IP_BLOCKED when the IP key is blocked, RESOURCE_EXHAUSTED / ACCOUNT_LOCKED
    /// (with RetryInfo) when the email is locked or concurrent failures already reached its threshold; the
    /// refused attempt is recorded. Otherwise counts the attempt as a failure until its outcome says otherwise.
    public func admit(_ context: LoginContext) async throws {
        let now = clock.now()
        let email = EmailNormalization.normalize(context.email)
        let ipKey = countedIPKey(context.ipAddress)
        // The block epoch is read before the block check: a block made in between is then seen by the check.
        let epoch = try await ipKey.asyncMap { try await store.blockCount(ipAddress: $0, since: .distantPast) }
        if let ipKey, let block = try await store.activeBlock(ipAddress: ipKey, now: now) {
            try await refuse(context, reason: .ipBlocked)
            throw Self.ipBlockedError(block, now: now)
        }
        let lock = try await store.accountLock(email: email)
        if let lock, let until = lock.lockedUntil, lock.isLocked(at: now) {
            try await refuse(context, reason: .accountLocked)
            throw Self.accountLockedError(until: until, now: now)
        }
        if let ipKey { context.admission.beginInFlight(inFlight, key: ipKey) }
        var counted = try await count(email: email, ipKey: ipKey, epoch: epoch, previousLock: lock, now: now)
        if let ip = counted.ip, policy.admission(emailFailures: nil, ipFailures: ip.failures) == .overIPLimit {
            counted.ip = try await admitOverIPLimit(context, ip, now: now)
            // It may have waited for seconds: the account is read again when it is needed.
            counted.account = nil
        }
        // The IP key's count was settled above (admitted within its limit, or refused): only the email's is left.
        switch policy.admission(emailFailures: counted.emailFailures, ipFailures: nil) {
        case .admit, .overIPLimit:
            // A lock resets the email's counter, so a lock made since the check above must be looked for again:
            // this attempt may have been counted on the fresh counter.
            if let current = try await store.accountLock(email: email), let until = current.lockedUntil,
                current.isLocked(at: now)
            {
                try await refuse(context, reason: .accountLocked)
                throw Self.accountLockedError(until: until, now: now)
            }
            context.admission.admitted(counted)
        case .overEmailLimit:
            try await refuse(context, reason: .accountLocked)
            let number = policy.nextLockNumber(
                previousLockCount: lock?.lockCount, previousLockTime: lock?.lastLockTime, now: now
            )
            throw Self.accountLockedError(
                until: now.addingTimeInterval(policy.lockDuration(forLockNumber: number)), now: now)
        }
    }

    /// An attempt counted over its IP key's limit: refused when the failures are final, otherwise (attempts of
    /// this process still being checked put it over) it steps out of the count, waits for one of them to end and
    /// is counted again, so at most `threshold` unchecked attempts are ever past admission.
    ///
    /// Returns the IP counters of the attempt once it is within the limit; throws IP_BLOCKED when the key is
    /// (or must now be) blocked, RATE_LIMITED when the wait ran out.
    func admitOverIPLimit(
        _ context: LoginContext, _ counted: LoginAdmission.IPCounters, now: Date
    ) async throws
        -> LoginAdmission.IPCounters
    {
        let deadline = ContinuousClock.now + inFlightWait
        var ip = counted
        while policy.admission(emailFailures: nil, ipFailures: ip.failures) == .overIPLimit {
            let others = max(0, inFlight.pending(ip.key) - 1)
            if ip.failures - others > policy.ip.threshold {
                // More final failures than the threshold: the key is blocked, even if the failure that reached
                // the threshold could not tell (attempts were still in flight when it ended).
                let block = try await ensureBlock(ip, failures: ip.failures - others - 1, now: now)
                try await refuse(context, reason: .ipBlocked)
                throw Self.ipBlockedError(block, now: now)
            }
            try await uncountIPAttempt(ip, now: now)
            if var ticket = context.admission.suspendInFlight() {
                defer { context.admission.resumeInFlight() }
                while true {
                    await inFlight.waitForTurn(ip.key, ticket: ticket, until: deadline)
                    guard ContinuousClock.now < deadline, !Task.isCancelled else { break }
                    let pending = inFlight.pending(ip.key)
                    guard pending > 0 else { break }
                    // Counting again is a write: first read whether it could change the outcome.
                    let recounted = try await finalIPFailures(ip, othersInFlight: 0, now: now) + 1
                    if recounted <= policy.ip.threshold || recounted - pending > policy.ip.threshold { break }
                    ticket = inFlight.requeue(ip.key)
                }
            }
            try Task.checkCancellation()
            guard ContinuousClock.now < deadline else {
                try await refuse(context, reason: .rateLimited)
                throw ClassyError(
                    .rateLimited, "too many sign-ins in progress from this address: try again shortly",
                    retryAfter: .seconds(1)
                )
            }
            let epoch = try await store.blockCount(ipAddress: ip.key, since: .distantPast)
            if let block = try await store.activeBlock(ipAddress: ip.key, now: now) {
                try await refuse(context, reason: .ipBlocked)
                throw Self.ipBlockedError(block, now: now)
            }
            ip = try await countIP(ip.key, epoch: epoch, now: now)
        }
        return ip
    }

    /// Records a failed attempt (and whatever the policy does about it).
    ///
    /// Only `.invalidCredentials` counts: when the attempt's failure reached the email's threshold the email is
    /// locked (with an `account_locked` event, an audit entry and a notification to the account, if any), and
    /// when it reached the IP key's threshold the key is blocked (escalating, permanent after repeated blocks).
    /// Any other reason (a deactivated account with the right password) un-counts what admission counted.
    public func recordFailure(
        _ context: LoginContext,
        reason: Classy_Monitoring_V1_FailureReason,
        userID: String?
    ) async throws {
        guard context.admission.settle() else { return }
        let now = clock.now()
        let attempt = attemptRecord(context, success: false, reason: reason, userID: userID, sessionID: nil, time: now)
        try await store.recordLoginAttempt(attempt, effects: Self.event(for: attempt))
        guard reason == .invalidCredentials else {
            if let counted = context.admission.counted {
                try await store.resetFailures(email: counted.email)
                try await uncountIPAttempt(counted, now: now)
            }
            context.admission.endInFlight()
            return
        }
        let othersInFlight = context.admission.endInFlight()
        let counted: LoginAdmission.Counted
        if let admitted = context.admission.counted {
            counted = admitted
        } else {
            // Login did not call admit first: count now, so the failure still counts.
            let email = EmailNormalization.normalize(context.email)
            let lock = try await store.accountLock(email: email)
            let ipKey = countedIPKey(context.ipAddress)
            let epoch = try await ipKey.asyncMap { try await store.blockCount(ipAddress: $0, since: .distantPast) }
            counted = try await count(email: email, ipKey: ipKey, epoch: epoch, previousLock: lock, now: now)
        }
        if policy.locksEmail(failures: counted.emailFailures) {
            try await lock(counted, userID: userID, ipAddress: context.ipAddress, now: now)
        }
        if let ip = counted.ip {
            let failures = try await finalIPFailures(ip, othersInFlight: othersInFlight, now: now)
            if policy.blocksIP(failures: failures) {
                _ = try await ensureBlock(ip, failures: failures, now: now)
            }
        }
    }

    /// Stores the new session and the successful attempt in one transaction; returns the updated user.
    ///
    /// The store resets the email's failure counter and un-counts the IP attempt counted at admission in that
    /// same transaction, and stores `newDeviceNotification` with `effects` if the session is the user's first
    /// active one from its device while others are active.
    public func recordSuccess(
        _ context: LoginContext,
        session: SessionRecord,
        effects: StoreEffects,
        newDeviceNotification: NewNotification? = nil
    ) async throws -> UserRecord {
        _ = context.admission.settle()
        let attempt = attemptRecord(
            context, success: true, reason: nil, userID: session.userID, sessionID: session.id, time: clock.now()
        )
        let ip = context.admission.counted?.ip
        let user = try await store.recordSuccessfulLogin(
            session: session, attempt: attempt, ipSuccessKey: ip?.successesKey, window: policy.ip.window,
            effects: Self.event(for: attempt).merging(effects), newDeviceNotification: newDeviceNotification
        )
        context.admission.endInFlight()
        return user
    }

    /// Ends the attempt's in-flight registration if its outcome was never recorded (Login failed on the way).
    ///
    /// Call it when Login returns, however it returns; after an outcome was recorded it does nothing.
    public func finish(_ context: LoginContext) {
        context.admission.endInFlight()
    }

    /// Records an attempt refused before admission (IP blocked or rate limited by the request path) without
    /// counting it.
    public func recordRefusal(_ context: LoginContext, reason: Classy_Monitoring_V1_FailureReason) async throws {
        try await refuse(context, reason: reason)
    }

    // MARK: - Errors

    /// PERMISSION_DENIED / IP_BLOCKED for a block in force, with RetryInfo unless it is permanent.
    public static func ipBlockedError(_ block: BlockedIPRecord, now: Date) -> ClassyError {
        guard !block.permanent, let until = block.blockedUntil else {
            return ClassyError(.ipBlocked, "requests from this address are blocked")
        }
        return ClassyError(
            .ipBlocked, "requests from this address are blocked until \(Self.format(until))",
            retryAfter: retryDelay(until.timeIntervalSince(now))
        )
    }

    /// RESOURCE_EXHAUSTED / ACCOUNT_LOCKED with RetryInfo until the lock ends.
    public static func accountLockedError(until: Date, now: Date) -> ClassyError {
        ClassyError(
            .accountLocked, "too many failed logins for this email: try again after \(Self.format(until))",
            retryAfter: retryDelay(until.timeIntervalSince(now))
        )
    }

    /// A RetryInfo delay: whole seconds, rounded up, at least one.
    public static func retryDelay(_ interval: TimeInterval) -> Duration {
        .seconds(Int64(max(1, interval.rounded(.up))))
    }

    private static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    // MARK: - Counting

    /// The IP key failures from `ipAddress` count under, or nil (not an address, or allow-listed).
    func countedIPKey(_ ipAddress: String) -> String? {
        guard let address = IPAddress(ipAddress), !policy.isAllowListed(address) else { return nil }
        return BruteForcePolicy.ipKey(for: address)
    }

    /// Pre-counts one failure for the email and the IP key, atomically per key; `epoch` is the number of blocks
    /// the IP key ever had.
    func count(
        email: String, ipKey: String?, epoch: Int?, previousLock: AccountLockRecord?, now: Date
    ) async throws
        -> LoginAdmission.Counted
    {
        // The pre-count also reads the email's account (Login needs it next), in the same transaction.
        guard let ipKey else {
            let (counts, account) = try await store.preCountLogin(
                email: email, ipKey: nil, ipSuccessesKey: nil, window: policy.email.window, now: now)
            return .init(
                email: email, emailFailures: counts.email, previousLock: previousLock, ip: nil, account: account)
        }
        let epoch = epoch ?? 0
        let keys = Self.ipCounterKeys(ipKey, epoch: epoch)
        let emailFailures: Int
        let ipCounts: LoginFailureCounts
        let account: UserRecord?
        if policy.email.window == policy.ip.window {
            (ipCounts, account) = try await store.preCountLogin(
                email: email, ipKey: keys.attempts, ipSuccessesKey: keys.successes, window: policy.email.window,
                now: now)
            emailFailures = ipCounts.email
        } else {
            let counts: LoginFailureCounts
            (counts, account) = try await store.preCountLogin(
                email: email, ipKey: nil, ipSuccessesKey: nil, window: policy.email.window, now: now)
            emailFailures = counts.email
            ipCounts = try await countIPAttempt(keys, now: now)
        }
        let ip = ipCounters(ipKey, epoch: epoch, attempts: ipCounts.ip, successesBefore: ipCounts.ipSuccesses)
        return .init(email: email, emailFailures: emailFailures, previousLock: previousLock, ip: ip, account: account)
    }

    /// The account of the admitted attempt's email: as admission's pre-count read it, or read now if it did not or
    /// waited since.
    public func account(for context: LoginContext) async throws -> UserRecord? {
        if let account = context.admission.account { return account }
        return try await store.user(email: context.email)
    }

    /// Pre-counts one attempt for the IP key alone (an attempt that waited counts its IP again).
    func countIP(_ ipKey: String, epoch: Int, now: Date) async throws -> LoginAdmission.IPCounters {
        let counts = try await countIPAttempt(Self.ipCounterKeys(ipKey, epoch: epoch), now: now)
        return ipCounters(ipKey, epoch: epoch, attempts: counts.ip, successesBefore: counts.ipSuccesses)
    }

    /// Pre-counts one attempt under the IP key's attempts key, with the key's successes read *before* the count.
    ///
    /// Every success follows the count of its own attempt, so the successes read before a count all belong to
    /// attempts included in it: attempts minus these never under-states the failures. Read after the count, they
    /// could include un-counts of attempts counted later, and let one attempt too many through.
    private func countIPAttempt(
        _ keys: (attempts: String, successes: String), now: Date
    ) async throws -> LoginFailureCounts {
        try await store.recordLoginFailure(
            email: nil, ipKey: keys.attempts, ipSuccessesKey: keys.successes, window: policy.ip.window, now: now,
            attempt: nil, effects: .none
        )
    }

    /// The IP key's failures from its pre-counted attempts: successes only matter once attempts alone reach the
    /// threshold.
    func ipCounters(_ ipKey: String, epoch: Int, attempts: Int, successesBefore: Int) -> LoginAdmission.IPCounters {
        let keys = Self.ipCounterKeys(ipKey, epoch: epoch)
        let failures = attempts >= policy.ip.threshold ? max(1, attempts - successesBefore) : attempts
        return .init(
            key: ipKey, failures: failures, attemptsKey: keys.attempts, successesKey: keys.successes, epoch: epoch
        )
    }

    /// The store keys of an IP key's pre-counted attempts and of its successes in one block epoch.
    static func ipCounterKeys(_ ipKey: String, epoch: Int) -> (attempts: String, successes: String) {
        ("\(ipKey)#\(epoch)", "ok:\(ipKey)#\(epoch)")
    }

    /// The IP key's failures that are final once this attempt failed: the counts as they are now, minus this
    /// process's attempts on the key still in flight (`othersInFlight`), which were counted as failures but may
    /// yet succeed. The last of concurrent failures to end sees none in flight, so a real run of failures always
    /// reaches the threshold.
    ///
    /// Attempts are read before successes, so the result may fall short (un-counts of later attempts) but never
    /// over-states: a failure never blocks on a count it did not see, and a block it misses is placed by the next
    /// attempt, which finds itself over the limit with nothing in flight.
    func finalIPFailures(_ ip: LoginAdmission.IPCounters, othersInFlight: Int, now: Date) async throws -> Int {
        let attempts = try await store.loginFailureCounts(
            email: nil, ipKey: ip.attemptsKey, window: policy.ip.window, now: now
        ).ip
        let successes = try await store.loginFailureCounts(
            email: nil, ipKey: ip.successesKey, window: policy.ip.window, now: now
        ).ip
        return attempts - successes - othersInFlight
    }

    /// Takes back the IP attempt counted at admission (the attempt turned out not to be a counted failure).
    func uncountIPAttempt(_ counted: LoginAdmission.Counted, now: Date) async throws {
        guard let ip = counted.ip else { return }
        try await uncountIPAttempt(ip, now: now)
    }

    /// Takes back one pre-counted attempt of the IP key.
    func uncountIPAttempt(_ ip: LoginAdmission.IPCounters, now: Date) async throws {
        _ = try await store.recordLoginFailure(
            email: nil, ipKey: ip.successesKey, window: policy.ip.window, now: now, attempt: nil, effects: .none
        )
    }

    // MARK: - Locks and blocks

    func lock(_ counted: LoginAdmission.Counted, userID: String?, ipAddress: String, now: Date) async throws {
        let number = policy.nextLockNumber(
            previousLockCount: counted.previousLock?.lockCount,
            previousLockTime: counted.previousLock?.lastLockTime,
            now: now
        )
        let until = now.addingTimeInterval(policy.lockDuration(forLockNumber: number))
        var effects = StoreEffects()
        effects.event(
            NewSecurityEvent(
                .accountLocked(
                    .with {
                        $0.email = counted.email
                        $0.userID = userID ?? ""
                        $0.failedAttempts = Int32(clamping: counted.emailFailures)
                        $0.lockedUntil = .init(date: until)
                        $0.ipAddress = ipAddress
                    }
                ),
                time: now
            )
        )
        effects.auditWithEvent(
            AuditEntryRecord(
                action: "account.lock",
                resourceType: "account",
                resourceID: counted.email,
                details: [
                    "failed_attempts": "\(counted.emailFailures)",
                    "locked_until": Self.format(until),
                    "lock_number": "\(number)",
                ],
                ipAddress: ipAddress,
                time: now
            )
        )
        if let userID {
            effects.notify(
                NewNotification(
                    userID: userID,
                    kind: Classy_Users_V1_NotificationKind.accountLocked.storeValue,
                    title: "Sign-in locked",
                    body: "Too many failed sign-in attempts: signing in to your account is locked until "
                        + "\(Self.format(until)).",
                    data: ["locked_until": Self.format(until), "ip_address": ipAddress],
                    createTime: now
                )
            )
        }
        let record = try await store.lockAccount(
            email: counted.email, until: until, now: now,
            escalationResetBefore: policy.escalationResetBefore(now: now), effects: effects
        )
        // Each lock period starts with a full allowance; the lock count keeps the escalation.
        try await store.resetFailures(email: counted.email)
        logger.notice(
            "account locked",
            metadata: ["email": "\(counted.email)", "until": "\(until)", "lock_count": "\(record.lockCount)"]
        )
    }

    /// The key's block in force, placing it first unless there is one (one decision per key at a time here).
    ///
    /// When the key's block epoch moved on since `ip` was counted (a block was placed and lifted or expired
    /// meanwhile), its failures no longer count: nothing is placed and a description of the refusal is returned.
    func ensureBlock(_ ip: LoginAdmission.IPCounters, failures: Int, now: Date) async throws -> BlockedIPRecord {
        try await inFlight.deciding(ip.key) {
            if let block = try await store.activeBlock(ipAddress: ip.key, now: now) { return block }
            guard try await store.blockCount(ipAddress: ip.key, since: .distantPast) == ip.epoch else {
                return BlockedIPRecord(
                    ipAddress: ip.key, reason: "too many failed logins", blockedUntil: now.addingTimeInterval(1),
                    permanent: false, createTime: now
                )
            }
            return try await block(ip, failures: max(failures, policy.ip.threshold), now: now)
        }
    }

    func block(_ ip: LoginAdmission.IPCounters, failures: Int, now: Date) async throws -> BlockedIPRecord {
        let previous = try await store.blockCount(
            ipAddress: ip.key, since: now.addingTimeInterval(-policy.ip.permanenceWindow)
        )
        let length = policy.block(previousBlocksInWindow: previous)
        let record = BlockedIPRecord(
            ipAddress: ip.key,
            reason: "\(failures) failed logins within \(Int(policy.ip.window / 60)) min",
            attempts: failures,
            blockedUntil: length.until(now: now),
            permanent: length == .permanent,
            createTime: now
        )
        var effects = StoreEffects()
        effects.event(NewSecurityEvent(.ipBlocked(record.api), time: now))
        var details = ["attempts": "\(failures)", "block_number": "\(previous + 1)"]
        details["blocked_until"] = record.blockedUntil.map(Self.format) ?? "permanent"
        effects.auditWithEvent(
            AuditEntryRecord(
                action: "ip.block", resourceType: "ip", resourceID: ip.key, details: details, ipAddress: ip.key,
                time: now
            )
        )
        let placed = try await store.blockIP(record, effects: effects)
        logger.notice(
            "ip blocked",
            metadata: ["ip": "\(ip.key)", "until": "\(record.blockedUntil.map { "\($0)" } ?? "permanent")"]
        )
        return placed
    }

    // MARK: - Attempts

    func refuse(_ context: LoginContext, reason: Classy_Monitoring_V1_FailureReason) async throws {
        context.admission.endInFlight()
        guard context.admission.settle() else { return }
        let userID = try await store.user(email: context.email)?.id
        let attempt = attemptRecord(
            context, success: false, reason: reason, userID: userID, sessionID: nil, time: clock.now()
        )
        try await store.recordLoginAttempt(attempt, effects: Self.event(for: attempt))
    }

    func attemptRecord(
        _ context: LoginContext,
        success: Bool,
        reason: Classy_Monitoring_V1_FailureReason?,
        userID: String?,
        sessionID: String?,
        time: Date
    ) -> LoginAttemptRecord {
        LoginAttemptRecord(
            email: context.email,
            ipAddress: context.ipAddress,
            success: success,
            failureReason: reason?.storeValue,
            userID: userID,
            sessionID: sessionID,
            userAgent: context.userAgent,
            deviceName: context.deviceName,
            time: time
        )
    }

    static func event(for attempt: LoginAttemptRecord) -> StoreEffects {
        StoreEffects(events: [NewSecurityEvent(.loginAttempt(attempt.api), time: attempt.time)])
    }
}

extension BruteForcePolicy.BlockLength {
    /// When a block of this length made at `now` ends; nil when permanent.
    func until(now: Date) -> Date? {
        switch self {
        case .temporary(let length): now.addingTimeInterval(length)
        case .permanent: nil
        }
    }
}

extension Optional {
    /// The async-transformed value, or nil.
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
