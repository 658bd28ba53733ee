import ClassyAPI
import ClassyCore
import ClassyStore
import GRPCCore
import Logging

/// `monitoring.v1.MonitoringService`: every RPC answers UNIMPLEMENTED until it is built.
public struct MonitoringService: Classy_Monitoring_V1_MonitoringService.SimpleServiceProtocol {
    let store: any ClassyStoreProtocol
    let clock: any WallClock
    let logger: Logger

    public init(store: any ClassyStoreProtocol, clock: any WallClock, logger: Logger) {
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    public func listLoginAttempts(
        request: Classy_Monitoring_V1_ListLoginAttemptsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_ListLoginAttemptsResponse {
        throw ClassyError(.unimplemented, "ListLoginAttempts is not implemented yet")
    }

    public func getSecurityMetrics(
        request: Classy_Monitoring_V1_GetSecurityMetricsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_GetSecurityMetricsResponse {
        throw ClassyError(.unimplemented, "GetSecurityMetrics is not implemented yet")
    }

    public func listBlockedIPs(
        request: Classy_Monitoring_V1_ListBlockedIPsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_ListBlockedIPsResponse {
        throw ClassyError(.unimplemented, "ListBlockedIPs is not implemented yet")
    }

    public func blockIP(
        request: Classy_Monitoring_V1_BlockIPRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_BlockIPResponse {
        throw ClassyError(.unimplemented, "BlockIP is not implemented yet")
    }

    public func unblockIP(
        request: Classy_Monitoring_V1_UnblockIPRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_UnblockIPResponse {
        throw ClassyError(.unimplemented, "UnblockIP is not implemented yet")
    }

    public func unlockAccount(
        request: Classy_Monitoring_V1_UnlockAccountRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_UnlockAccountResponse {
        throw ClassyError(.unimplemented, "UnlockAccount is not implemented yet")
    }

    public func listAuditLogs(
        request: Classy_Monitoring_V1_ListAuditLogsRequest,
        context: ServerContext
    ) async throws -> Classy_Monitoring_V1_ListAuditLogsResponse {
        throw ClassyError(.unimplemented, "ListAuditLogs is not implemented yet")
    }

    public func streamSecurityEvents(
        request: Classy_Monitoring_V1_StreamSecurityEventsRequest,
        response: GRPCCore.RPCWriter<Classy_Monitoring_V1_SecurityEvent>,
        context: ServerContext
    ) async throws {
        throw ClassyError(.unimplemented, "StreamSecurityEvents is not implemented yet")
    }
}
