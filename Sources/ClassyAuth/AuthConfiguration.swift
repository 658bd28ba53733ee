import ClassyCore
import Foundation

/// The settings of AuthService.
public struct AuthConfiguration: Sendable {
    /// Whether Register is open.
    public var registrationOpen = true
    /// How long the previous refresh token of a session keeps working after rotation.
    public var refreshGrace: TimeInterval = 10
    /// Lifetime of refresh tokens (and so of idle sessions).
    public var refreshTokenLifetime: TimeInterval = 7 * 24 * 3600
    /// The brute-force policy Login applies (DESIGN.md defaults).
    public var bruteForce = BruteForcePolicy()

    public init(registrationOpen: Bool = true, refreshGrace: TimeInterval = 10) {
        self.registrationOpen = registrationOpen
        self.refreshGrace = refreshGrace
    }
}
