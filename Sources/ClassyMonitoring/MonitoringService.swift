import ClassyAPI
import ClassyCore
import ClassyStore
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf

/// `classy.monitoring.v1.MonitoringService`: login attempts, security metrics, IP blocks, account locks, the audit
/// log and the realtime security-event stream.
///
/// Lists read the store by indexed keyset pages (opaque `PageToken`s over time and id); metrics come from the
/// store's aggregate queries; every administrative change is written with its audit entry and security events
/// in one transaction. Streams are served by the ``EventHub``.
public struct MonitoringService: Classy_Monitoring_V1_MonitoringService.SimpleServiceProtocol {
    let store: any ClassyStoreProtocol
    let clock: any WallClock
    let logger: Logger
    let hub: EventHub
    let configuration: MonitoringConfiguration
    let blocksChanged: @Sendable () async -> Void
    let metricsCache = MetricsCache()

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - store: the store.
    ///   - clock: the wall clock.
    ///   - logger: the logger.
    ///   - hub: the running event hub that serves StreamSecurityEvents.
    ///   - configuration: heartbeat interval, allow-list and limits.
    ///   - blocksChanged: awaited after BlockIP and UnblockIP commit, before they answer (the server refreshes
    ///     its in-memory IP blocks here).
    public init(
        store: any ClassyStoreProtocol,
        clock: any WallClock,
        logger: Logger,
        hub: EventHub,
        configuration: MonitoringConfiguration = MonitoringConfiguration(),
        blocksChanged: @escaping @Sendable () async -> Void = {}
    ) {
        self.store = store
        self.clock = clock
        self.logger = logger
        self.hub = hub
        self.configuration = configuration
        self.blocksChanged = blocksChanged
    }

    // MARK: - Lists

    public func listLoginAttempts(
        request: Classy_Monitoring_V1_ListLoginAttemptsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_ListLoginAttemptsResponse {
        var check = FieldValidator()
        let pageSize = check.pageSize(request.pageSize)
        var query = LoginAttemptQuery(limit: pageSize + 1)
        if !request.email.isEmpty {
            query.email = check.text("email", FieldValidator.normaliseEmail(request.email), max: 254)
        }
        if !request.ipAddress.isEmpty {
            if let address = IPAddress(request.ipAddress) {
                query.ipAddress = address.description
            } else {
                check.fail("ip_address", "must be an IPv4 or IPv6 address")
            }
        }
        query.success = request.hasSuccessFilter ? request.successFilter : nil
        (query.startTime, query.endTime) = Self.timeRange(
            request.hasStartTime ? request.startTime : nil,
            request.hasEndTime ? request.endTime : nil, check: &check)
        query.after = Self.cursor(request.pageToken, check: &check)
        try check.finish()

        let records = try await store.listLoginAttempts(query)
        return .with {
            $0.attempts = records.prefix(pageSize).map(\.api)
            $0.nextPageToken = Self.nextPageToken(records, pageSize: pageSize) { TimeCursor(time: $0.time, id: $0.id) }
        }
    }

    public func getSecurityMetrics(
        request: Classy_Monitoring_V1_GetSecurityMetricsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_GetSecurityMetricsResponse {
        var window: TimeInterval = 3600
        if request.hasWindow {
            window = request.window.timeInterval
            guard (60...(30 * 24 * 3600)).contains(window) else {
                throw ClassyError.invalidField("window", "must be between 1 minute and 30 days")
            }
        }
        let metrics = try await metrics(window: window)
        return .with { $0.metrics = metrics }
    }

    public func listBlockedIPs(
        request: Classy_Monitoring_V1_ListBlockedIPsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_ListBlockedIPsResponse {
        var check = FieldValidator()
        let pageSize = check.pageSize(request.pageSize)
        let after = Self.cursor(request.pageToken, check: &check)
        try check.finish()
        let records = try await store.listBlockedIPs(
            BlockedIPQuery(includeExpired: request.includeExpired, now: clock.now(), after: after, limit: pageSize + 1)
        )
        return .with {
            $0.blockedIps = records.prefix(pageSize).map(\.api)
            $0.nextPageToken = Self.nextPageToken(records, pageSize: pageSize) {
                TimeCursor(time: $0.createTime, id: $0.id)
            }
        }
    }

    public func listAuditLogs(
        request: Classy_Monitoring_V1_ListAuditLogsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_ListAuditLogsResponse {
        var check = FieldValidator()
        let pageSize = check.pageSize(request.pageSize)
        var query = AuditQuery(limit: pageSize + 1)
        if !request.actorUserID.isEmpty {
            query.actorUserID = check.text("actor_user_id", request.actorUserID, max: 64)
        }
        if !request.action.isEmpty { query.action = check.text("action", request.action, max: 100) }
        if !request.resourceType.isEmpty {
            query.resourceType = check.text("resource_type", request.resourceType, max: 100)
        }
        (query.startTime, query.endTime) = Self.timeRange(
            request.hasStartTime ? request.startTime : nil,
            request.hasEndTime ? request.endTime : nil, check: &check)
        query.after = Self.cursor(request.pageToken, check: &check)
        try check.finish()

        let records = try await store.listAuditLogs(query)
        return .with {
            $0.entries = records.prefix(pageSize).map(\.api)
            $0.nextPageToken = Self.nextPageToken(records, pageSize: pageSize) { TimeCursor(time: $0.time, id: $0.id) }
        }
    }

    // MARK: - Administration

    public func blockIP(
        request: Classy_Monitoring_V1_BlockIPRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_BlockIPResponse {
        var check = FieldValidator()
        let network = IPNetwork(request.ipAddress.trimmingCharacters(in: .whitespaces))
        if network == nil { check.fail("ip_address", "must be an IPv4/IPv6 address or CIDR range") }
        let reason = check.text("reason", request.reason, max: 500)
        var duration: TimeInterval?
        if request.hasDuration {
            let value = request.duration.timeInterval
            if value < 1 || value > configuration.maxBlockDuration {
                check.fail(
                    "duration", "must be between 1 second and \(Int(configuration.maxBlockDuration / 86400)) days")
            }
            duration = value
        }
        try check.finish()
        guard let network else { throw ClassyError.invalidField("ip_address", "must be an address or CIDR range") }
        if BruteForcePolicy(allowList: configuration.allowList).overlapsAllowList(network) {
            throw ClassyError(.ipAllowListed, "\(network) overlaps the allow-list and cannot be blocked")
        }

        let caller = try RequestContext.requireCaller()
        let now = clock.now()
        let block = BlockedIPRecord(
            ipAddress: network.description,
            reason: reason,
            attempts: 0,
            blockedUntil: duration.map { now.addingTimeInterval($0) },
            permanent: duration == nil,
            createTime: now,
            createdBy: caller.userID
        )
        var effects = StoreEffects()
        effects.event(NewSecurityEvent(.ipBlocked(block.api), time: now))
        effects.auditWithEvent(
            audit(
                "ip.block", resourceType: "ip", resourceID: block.ipAddress, caller: caller, now: now,
                details: [
                    "reason": reason,
                    "blocked_until": block.blockedUntil.map { $0.formatted(.iso8601) } ?? "permanent",
                ]
            )
        )
        let stored = try await store.blockIP(block, effects: effects)
        await blocksChanged()
        logger.notice("ip blocked by an admin", metadata: ["ip": "\(stored.ipAddress)", "by": "\(caller.userID)"])
        return .with { $0.blockedIp = stored.api }
    }

    public func unblockIP(
        request: Classy_Monitoring_V1_UnblockIPRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_UnblockIPResponse {
        var check = FieldValidator()
        let network = IPNetwork(request.ipAddress.trimmingCharacters(in: .whitespaces))
        if network == nil { check.fail("ip_address", "must be an IPv4/IPv6 address or CIDR range") }
        let reason = check.text("reason", request.reason, max: 500)
        try check.finish()
        guard let network else { throw ClassyError.invalidField("ip_address", "must be an address or CIDR range") }

        let caller = try RequestContext.requireCaller()
        let now = clock.now()
        var effects = StoreEffects()
        effects.event(
            NewSecurityEvent(
                .ipUnblocked(
                    .with {
                        $0.ipAddress = network.description
                        $0.reason = reason
                        $0.unblockedBy = caller.userID
                    }
                ),
                time: now
            )
        )
        effects.auditWithEvent(
            audit(
                "ip.unblock", resourceType: "ip", resourceID: network.description, caller: caller, now: now,
                details: ["reason": reason]
            )
        )
        guard
            try await store.unblockIP(ipAddress: network.description, reason: reason, now: now, effects: effects) != nil
        else {
            throw ClassyError(.notFound, "\(network) is not blocked")
        }
        await blocksChanged()
        logger.notice("ip unblocked by an admin", metadata: ["ip": "\(network)", "by": "\(caller.userID)"])
        return .init()
    }

    public func unlockAccount(
        request: Classy_Monitoring_V1_UnlockAccountRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_UnlockAccountResponse {
        var check = FieldValidator()
        let email = check.email("email", request.email)
        try check.finish()

        let caller = try RequestContext.requireCaller()
        let now = clock.now()
        guard let lock = try await store.accountLock(email: email), lock.isLocked(at: now) else {
            throw ClassyError(.notFound, "\(email) is not locked")
        }
        let effects = StoreEffects.audited(
            audit(
                "account.unlock", resourceType: "account", resourceID: email, caller: caller, now: now,
                details: ["locked_until": lock.lockedUntil.map { $0.formatted(.iso8601) } ?? ""]
            )
        )
        guard try await store.unlockAccount(email: email, now: now, effects: effects) != nil else {
            throw ClassyError(.notFound, "\(email) is not locked")
        }
        logger.notice("account unlocked by an admin", metadata: ["email": "\(email)", "by": "\(caller.userID)"])
        return .init()
    }

    // MARK: - Helpers

    func audit(
        _ action: String,
        resourceType: String,
        resourceID: String,
        caller: Caller,
        now: Date,
        details: [String: String]
    ) -> AuditEntryRecord {
        AuditEntryRecord(
            action: action,
            actorUserID: caller.userID,
            resourceType: resourceType,
            resourceID: resourceID,
            details: details,
            ipAddress: RequestContext.current?.clientIP ?? "",
            time: now
        )
    }

    /// Security metrics over `window` ending now, in wire form.
    func metrics(window: TimeInterval) async throws -> Classy_Monitoring_V1_SecurityMetrics {
        let now = clock.now()
        let snapshot = try await store.securityMetrics(
            since: now.addingTimeInterval(-window), now: now, topFailingIPLimit: configuration.topFailingIPs
        )
        return snapshot.api(window: window)
    }

    /// The page position encoded in page tokens.
    struct PagePosition: Codable {
        /// Seconds since 1970 of the last record returned.
        var t: Double
        /// Its id.
        var i: String
    }

    static func cursor(_ token: String, check: inout FieldValidator) -> TimeCursor? {
        do {
            return try PageToken.decode(PagePosition.self, from: token).map {
                TimeCursor(time: Date(timeIntervalSince1970: $0.t), id: $0.i)
            }
        } catch {
            check.fail("page_token", "is not a token returned by this server")
            return nil
        }
    }

    static func nextPageToken<Record>(_ records: [Record], pageSize: Int, position: (Record) -> TimeCursor) -> String {
        guard records.count > pageSize else { return "" }
        let last = position(records[pageSize - 1])
        return PageToken.encode(PagePosition(t: last.time.timeIntervalSince1970, i: last.id))
    }

    static func timeRange(
        _ start: Google_Protobuf_Timestamp?,
        _ end: Google_Protobuf_Timestamp?,
        check: inout FieldValidator
    ) -> (Date?, Date?) {
        let startDate = start?.date
        let endDate = end?.date
        if let startDate, let endDate, startDate > endDate {
            check.fail("start_time", "must not be after end_time")
        }
        return (startDate, endDate)
    }
}

extension Google_Protobuf_Duration {
    /// The duration in seconds.
    var timeInterval: TimeInterval {
        TimeInterval(seconds) + TimeInterval(nanos) / 1_000_000_000
    }
}

extension SecurityMetricsSnapshot {
    /// The wire form over `window`.
    func api(window: TimeInterval) -> Classy_Monitoring_V1_SecurityMetrics {
        .with {
            $0.window = Google_Protobuf_Duration(seconds: Int64(window.rounded()), nanos: 0)
            $0.loginAttempts = Int64(loginAttempts)
            $0.failedLogins = Int64(failedLogins)
            $0.successfulLogins = Int64(successfulLogins)
            $0.uniqueIps = Int64(uniqueIPs)
            $0.activeBlockedIps = Int64(activeBlockedIPs)
            $0.lockedAccounts = Int64(lockedAccounts)
            $0.activeSessions = Int64(activeSessions)
            $0.topFailingIps = topFailingIPs.map { ip in
                .with {
                    $0.ipAddress = ip.ipAddress
                    $0.count = Int32(clamping: ip.count)
                }
            }
            $0.failuresPerMinute = failuresPerMinute.map(Int64.init)
        }
    }
}
