import ClassyAuth
import Foundation

extension AuthConfiguration {
    /// The AuthService settings of a server configuration.
    public init(server: ServerConfiguration) {
        self.init(
            registrationOpen: server.registration == .open,
            refreshGrace: TimeInterval(server.refreshGraceSeconds)
        )
    }
}
