import ClassyAPI
import GRPCCore

/// Who may call an RPC.
public enum RPCAccess: Sendable, Hashable {
    /// Anyone, without a token (Register, Login, Refresh, IssueServiceToken, GetSigningKeys, Health).
    case anonymous
    /// A caller holding one of these roles.
    case roles(Set<Role>)

    /// Every human role: users, admins and super admins.
    public static let anyUser = RPCAccess.roles([.user, .admin, .superAdmin])
    /// Admins and super admins.
    public static let admin = RPCAccess.roles([.admin, .superAdmin])
    /// Admins, super admins and service accounts.
    public static let adminOrService = RPCAccess.roles([.admin, .superAdmin, .service])
    /// Every human role and service accounts.
    public static let anyUserOrService = RPCAccess.roles([.user, .admin, .superAdmin, .service])
    /// Super admins only.
    public static let superAdmin = RPCAccess.roles([.superAdmin])

    /// Whether a caller with `role` may call.
    public func allows(_ role: Role?) -> Bool {
        switch self {
        case .anonymous: true
        case .roles(let roles): role.map(roles.contains) ?? false
        }
    }

    /// Whether a token is needed.
    public var requiresAuthentication: Bool {
        if case .anonymous = self { return false }
        return true
    }
}

/// The rate-limit bucket family of an RPC (API.md "Defaults that clients can rely on").
public enum RateLimitFamily: String, Sendable, Hashable, CaseIterable {
    /// Register, Login, Refresh, IssueServiceToken: 10/s, burst 30.
    case credentials
    /// Every other RPC: 100/s, burst 200.
    case standard
    /// Health: never limited.
    case unlimited
}

/// What the request path needs to know about one RPC.
public struct RPCPolicy: Sendable, Hashable {
    /// Who may call it.
    public var access: RPCAccess
    /// Whether it changes state (and so honours `idempotency-key`).
    public var isMutating: Bool
    /// Its rate-limit family.
    public var rateLimit: RateLimitFamily

    public init(access: RPCAccess, isMutating: Bool, rateLimit: RateLimitFamily = .standard) {
        self.access = access
        self.isMutating = isMutating
        self.rateLimit = rateLimit
    }
}

/// THE authorization table: every RPC of API.md and its policy, in one place.
///
/// The interceptors enforce it; the tests generate their role x RPC matrix from it. Finer rules
/// that depend on the target (an admin may only manage users of role USER, nobody may demote the
/// primary admin) are checked by the handlers.
public enum RPCPolicies {
    private typealias Auth = Classy_Auth_V1_AuthService.Method
    private typealias Users = Classy_Users_V1_UsersService.Method
    private typealias Monitoring = Classy_Monitoring_V1_MonitoringService.Method
    private typealias Health = Grpc_Health_V1_Health.Method

    /// Every RPC served, keyed by method descriptor.
    public static let table: [MethodDescriptor: RPCPolicy] = [
        // AuthService
        Auth.Register.descriptor: .init(access: .anonymous, isMutating: true, rateLimit: .credentials),
        Auth.Login.descriptor: .init(access: .anonymous, isMutating: false, rateLimit: .credentials),
        Auth.Refresh.descriptor: .init(access: .anonymous, isMutating: false, rateLimit: .credentials),
        Auth.Logout.descriptor: .init(access: .anyUser, isMutating: true),
        Auth.ChangePassword.descriptor: .init(access: .anyUser, isMutating: true),
        Auth.ListSessions.descriptor: .init(access: .anyUser, isMutating: false),
        Auth.RevokeSession.descriptor: .init(access: .anyUser, isMutating: true),
        Auth.IntrospectToken.descriptor: .init(access: .adminOrService, isMutating: false),
        Auth.GetSigningKeys.descriptor: .init(access: .anonymous, isMutating: false),
        Auth.IssueServiceToken.descriptor: .init(access: .anonymous, isMutating: false, rateLimit: .credentials),
        Auth.CreateServiceAccount.descriptor: .init(access: .superAdmin, isMutating: true),
        Auth.ListServiceAccounts.descriptor: .init(access: .superAdmin, isMutating: false),
        Auth.DeleteServiceAccount.descriptor: .init(access: .superAdmin, isMutating: true),
        // UsersService
        Users.GetMe.descriptor: .init(access: .anyUser, isMutating: false),
        Users.UpdateMe.descriptor: .init(access: .anyUser, isMutating: true),
        Users.ListUsers.descriptor: .init(access: .adminOrService, isMutating: false),
        Users.GetUser.descriptor: .init(access: .adminOrService, isMutating: false),
        Users.CreateUser.descriptor: .init(access: .admin, isMutating: true),
        Users.UpdateUser.descriptor: .init(access: .admin, isMutating: true),
        Users.DeleteUser.descriptor: .init(access: .admin, isMutating: true),
        Users.ListUserChanges.descriptor: .init(access: .anyUserOrService, isMutating: false),
        Users.ListNotifications.descriptor: .init(access: .anyUser, isMutating: false),
        Users.MarkNotificationsRead.descriptor: .init(access: .anyUser, isMutating: true),
        Users.WatchNotifications.descriptor: .init(access: .anyUser, isMutating: false),
        // MonitoringService
        Monitoring.ListLoginAttempts.descriptor: .init(access: .admin, isMutating: false),
        Monitoring.GetSecurityMetrics.descriptor: .init(access: .admin, isMutating: false),
        Monitoring.ListBlockedIPs.descriptor: .init(access: .admin, isMutating: false),
        Monitoring.BlockIP.descriptor: .init(access: .admin, isMutating: true),
        Monitoring.UnblockIP.descriptor: .init(access: .admin, isMutating: true),
        Monitoring.UnlockAccount.descriptor: .init(access: .admin, isMutating: true),
        Monitoring.ListAuditLogs.descriptor: .init(access: .admin, isMutating: false),
        Monitoring.StreamSecurityEvents.descriptor: .init(access: .adminOrService, isMutating: false),
        // grpc.health.v1.Health
        Health.Check.descriptor: .init(access: .anonymous, isMutating: false, rateLimit: .unlimited),
        Health.Watch.descriptor: .init(access: .anonymous, isMutating: false, rateLimit: .unlimited),
    ]

    /// The policy of an RPC; nil for methods this server does not serve.
    public static func policy(for method: MethodDescriptor) -> RPCPolicy? {
        table[method]
    }
}
