import ClassyCore
import Foundation

/// The settings of MonitoringService.
public struct MonitoringConfiguration: Sendable {
    /// How often StreamSecurityEvents sends a heartbeat (API.md: 15 s).
    public var heartbeatInterval: Duration = .seconds(15)
    /// The shortest `metrics_interval` honoured; shorter non-zero requests are raised to it.
    public var minimumMetricsInterval: Duration = .seconds(1)
    /// The window of the metrics snapshots sent on streams.
    public var streamMetricsWindow: TimeInterval = 3600
    /// How many top failing IPs metrics include.
    public var topFailingIPs = 10
    /// Ranges BlockIP refuses (FAILED_PRECONDITION / IP_ALLOW_LISTED); the brute-force allow-list.
    public var allowList: [IPNetwork] = []
    /// The longest temporary block BlockIP accepts.
    public var maxBlockDuration: TimeInterval = 10 * 365 * 24 * 3600

    /// Creates the defaults.
    public init() {}
}
