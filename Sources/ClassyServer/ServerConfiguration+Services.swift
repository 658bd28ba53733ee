import ClassyAuth
import ClassyMonitoring
import Foundation

extension AuthConfiguration {
    /// The AuthService settings of a server configuration.
    public init(server: ServerConfiguration) {
        self.init(
            registrationOpen: server.registration == .open,
            refreshGrace: TimeInterval(server.refreshGraceSeconds)
        )
        bruteForce = server.bruteForce
    }
}

extension MonitoringConfiguration {
    /// The MonitoringService settings of a server configuration.
    public init(server: ServerConfiguration) {
        self.init()
        heartbeatInterval = server.streamHeartbeatInterval
        allowList = server.bruteForce.allowList
    }
}
