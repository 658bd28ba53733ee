import ClassyAPI
import Foundation
import SwiftProtobuf

/// Everything the dashboard shows, updated from the stream and from periodic RPCs.
public struct DashboardState: Sendable {
    /// The server shown in the title.
    public var server: String
    /// Connection status line.
    public var connection: FollowerStatus
    /// The time the screen is drawn for.
    public var now: Date
    /// The latest metrics snapshot.
    public var metrics: Classy_Monitoring_V1_SecurityMetrics?
    /// Latest login attempts, newest first (at most `attemptCapacity`).
    public var attempts: [Classy_Monitoring_V1_LoginAttempt] = []
    /// IP blocks in force, newest first.
    public var blockedIPs: [Classy_Monitoring_V1_BlockedIP] = []
    /// The last persisted sequence seen.
    public var lastSequence: UInt64?
    /// Persisted events received since start.
    public var eventsReceived = 0
    /// How many attempts are kept.
    public var attemptCapacity = 200

    /// An empty state for `server`.
    public init(server: String, connection: FollowerStatus = .connecting(attempt: 0), now: Date = Date()) {
        self.server = server
        self.connection = connection
        self.now = now
    }

    /// Applies one stream event.
    public mutating func apply(_ event: SecurityEvent) {
        if event.sequence > 0 {
            lastSequence = event.sequence
            eventsReceived += 1
        }
        switch event.event {
        case .loginAttempt(let attempt):
            attempts.insert(attempt, at: 0)
            if attempts.count > attemptCapacity { attempts.removeLast(attempts.count - attemptCapacity) }
        case .ipBlocked(let block):
            blockedIPs.removeAll { $0.ipAddress == block.ipAddress }
            blockedIPs.insert(block, at: 0)
        case .ipUnblocked(let unblock):
            blockedIPs.removeAll { $0.ipAddress == unblock.ipAddress }
        case .securityMetrics(let metrics):
            self.metrics = metrics
        default:
            break
        }
    }

    /// Drops blocks whose time has run out.
    public mutating func expireBlocks() {
        let now = now.timeIntervalSince1970
        blockedIPs.removeAll { !$0.permanent && $0.hasBlockedUntil && Double($0.blockedUntil.seconds) <= now }
    }
}
