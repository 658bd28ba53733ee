import Foundation

/// Brute-force state (failure counters, account locks, IP blocks), login attempts and security metrics.
///
/// The store gives atomic counts and upserts; thresholds and escalation are policy, decided by the caller.
///
/// Failure counters use a sliding window: each counted failure is a timestamped row under its key, and the
/// count is the number of rows for the key newer than `now - window`. Inserting and counting happen in one
/// write transaction, so N concurrent failures on a key observe N distinct counts. (PostgreSQL: insert then
/// count under `pg_advisory_xact_lock(hash(key))` in one transaction; MongoDB: an atomic `findOneAndUpdate`
/// that pushes the time and pulls expired entries.)
public protocol SecurityStore: Sendable {
    /// Stores an attempt that does not count toward locks or blocks (success paths use
    /// ``recordSuccessfulLogin(session:attempt:ipSuccessKey:window:effects:)``).
    func recordLoginAttempt(_ attempt: LoginAttemptRecord, effects: StoreEffects) async throws

    /// Counts a failed login for the email and/or the IP key and returns the counts within `window`,
    /// this failure included; stores `attempt` and `effects` in the same transaction.
    ///
    /// Emails are normalised; the IP key is used as given (group IPv6 by /64 before calling). Failures older
    /// than `window` are pruned as new ones are counted, so use one window per kind of key.
    ///
    /// A bare count (no `attempt`, no `effects`: the pre-count before a password check) is atomic and visible to
    /// every later count at once, but a backend may make it durable only with its next durable commit, such as
    /// the attempt's own record that follows before anyone is answered (SQLite: that group commits with
    /// `synchronous=NORMAL`; PostgreSQL: `synchronous_commit = off`). A process crash loses nothing; a power cut
    /// can lose only counts whose attempts were never answered.
    ///
    /// With `ipSuccessesKey`, the counts also carry the entries under that key within `window` (Login keeps an IP
    /// key's successes there), read in the same transaction *before* this failure is counted: every success
    /// follows the count of its own attempt, so all of them belong to attempts included in `ip`.
    func recordLoginFailure(
        email: String?,
        ipKey: String?,
        ipSuccessesKey: String?,
        window: TimeInterval,
        now: Date,
        attempt: LoginAttemptRecord?,
        effects: StoreEffects
    ) async throws -> LoginFailureCounts

    /// Login's pre-count with its account lookup: counts a failure for the email and the IP key as a bare
    /// ``recordLoginFailure(email:ipKey:ipSuccessesKey:window:now:attempt:effects:)`` does (with the same
    /// durability), and returns the account of the normalised email, as ``UserStore/user(email:)`` finds it, read
    /// in the same transaction.
    func preCountLogin(
        email: String,
        ipKey: String?,
        ipSuccessesKey: String?,
        window: TimeInterval,
        now: Date
    ) async throws -> (counts: LoginFailureCounts, account: UserRecord?)

    /// Returns the failure counts within `window` without counting a new failure.
    func loginFailureCounts(
        email: String?, ipKey: String?, window: TimeInterval, now: Date
    ) async throws
        -> LoginFailureCounts

    /// In one transaction: stores the session, sets the user's last login, resets the email's failure counter,
    /// counts one entry under `ipSuccessKey` when given (as ``recordLoginFailure(email:ipKey:window:now:attempt:effects:)``
    /// counts under an IP key, at the attempt's time, within `window`; Login keeps an IP's successes there) and
    /// stores the attempt and `effects`; returns the updated user.
    ///
    /// `newDeviceNotification` is stored with the effects only if, in the same transaction and before the session
    /// is stored, ``SessionStore/deviceSighting(userID:device:now:)`` for the session's user, device and creation
    /// time answers ``DeviceSighting/newDevice``.
    func recordSuccessfulLogin(
        session: SessionRecord,
        attempt: LoginAttemptRecord,
        ipSuccessKey: String?,
        window: TimeInterval,
        effects: StoreEffects,
        newDeviceNotification: NewNotification?
    ) async throws -> UserRecord

    /// Forgets the email's counted failures.
    func resetFailures(email: String) async throws

    /// Returns the lock state of an email, if it was ever locked.
    func accountLock(email: String) async throws -> AccountLockRecord?

    /// Locks an email until `until`, incrementing its lock count (restarting at 1 when the previous lock was
    /// before `escalationResetBefore`), with `effects`.
    func lockAccount(
        email: String,
        until: Date,
        now: Date,
        escalationResetBefore: Date?,
        effects: StoreEffects
    ) async throws -> AccountLockRecord

    /// Lifts an email's lock and resets its failures, keeping the lock count; returns `nil` if it was never
    /// locked.
    func unlockAccount(email: String, now: Date, effects: StoreEffects) async throws -> AccountLockRecord?

    /// Blocks an address or CIDR; an active block of the same address is updated in place (same id).
    func blockIP(_ block: BlockedIPRecord, effects: StoreEffects) async throws -> BlockedIPRecord

    /// Lifts the active block of an address or CIDR; returns `nil` if none was active.
    func unblockIP(
        ipAddress: String, reason: String, now: Date, effects: StoreEffects
    ) async throws
        -> BlockedIPRecord?

    /// Returns the active block of exactly this address or CIDR.
    func activeBlock(ipAddress: String, now: Date) async throws -> BlockedIPRecord?

    /// Returns every block in force at `now` (for CIDR matching in memory).
    func activeBlocks(now: Date) async throws -> [BlockedIPRecord]

    /// Counts blocks of an address created at or after `since` (escalation to permanent).
    func blockCount(ipAddress: String, since: Date) async throws -> Int

    /// Lists blocks, newest first.
    func listBlockedIPs(_ query: BlockedIPQuery) async throws -> [BlockedIPRecord]

    /// Lists login attempts, newest first.
    func listLoginAttempts(_ query: LoginAttemptQuery) async throws -> [LoginAttemptRecord]

    /// Deletes login attempts (and counted failures) older than `date`; returns how many attempts.
    func deleteLoginAttempts(before date: Date) async throws -> Int

    /// Computes security metrics for attempts in `[since, now)` and the state in force at `now`.
    func securityMetrics(since: Date, now: Date, topFailingIPLimit: Int) async throws -> SecurityMetricsSnapshot
}

extension SecurityStore {
    /// Counts a failed login without reading an IP key's successes (see
    /// ``recordLoginFailure(email:ipKey:ipSuccessesKey:window:now:attempt:effects:)``).
    public func recordLoginFailure(
        email: String?,
        ipKey: String?,
        window: TimeInterval,
        now: Date,
        attempt: LoginAttemptRecord?,
        effects: StoreEffects
    ) async throws -> LoginFailureCounts {
        try await recordLoginFailure(
            email: email, ipKey: ipKey, ipSuccessesKey: nil, window: window, now: now, attempt: attempt,
            effects: effects)
    }

    /// Records a successful login with no new-device notification (see
    /// ``recordSuccessfulLogin(session:attempt:ipSuccessKey:window:effects:newDeviceNotification:)``).
    public func recordSuccessfulLogin(
        session: SessionRecord,
        attempt: LoginAttemptRecord,
        ipSuccessKey: String?,
        window: TimeInterval,
        effects: StoreEffects
    ) async throws -> UserRecord {
        try await recordSuccessfulLogin(
            session: session, attempt: attempt, ipSuccessKey: ipSuccessKey, window: window, effects: effects,
            newDeviceNotification: nil)
    }

    /// Records a successful login without counting an IP success.
    public func recordSuccessfulLogin(
        session: SessionRecord,
        attempt: LoginAttemptRecord,
        effects: StoreEffects
    ) async throws -> UserRecord {
        try await recordSuccessfulLogin(
            session: session, attempt: attempt, ipSuccessKey: nil, window: 0, effects: effects)
    }
}
