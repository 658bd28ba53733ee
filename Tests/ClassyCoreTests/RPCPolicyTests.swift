import ClassyAPI
import ClassyCore
import GRPCCore
import Testing

@Suite("RPCPolicies")
struct RPCPolicyTests {
    static let allMethods: [MethodDescriptor] =
        Classy_Auth_V1_AuthService.Method.descriptors + Classy_Users_V1_UsersService.Method.descriptors
        + Classy_Monitoring_V1_MonitoringService.Method.descriptors + Grpc_Health_V1_Health.Method.descriptors

    @Test("every RPC of every service is in the table, and nothing else")
    func complete() {
        #expect(Set(Self.allMethods) == Set(RPCPolicies.table.keys))
        #expect(Self.allMethods.count == 34)
    }

    @Test("anonymous RPCs are exactly those API.md lists")
    func anonymous() {
        let anonymous = Set(RPCPolicies.table.filter { !$0.value.access.requiresAuthentication }.keys.map(\.method))
        #expect(anonymous == ["Register", "Login", "Refresh", "IssueServiceToken", "GetSigningKeys", "Check", "Watch"])
    }

    @Test("service accounts reach exactly their five RPCs")
    func serviceRole() {
        let allowed = Set(
            RPCPolicies.table.filter { $0.value.access.requiresAuthentication && $0.value.access.allows(.service) }.keys
                .map(\.method))
        #expect(allowed == ["IntrospectToken", "GetUser", "ListUsers", "ListUserChanges", "StreamSecurityEvents"])
    }

    @Test("users reach only their own-data RPCs; monitoring is admin only")
    func userRole() {
        for (method, policy) in RPCPolicies.table
        where method.service.fullyQualifiedService.hasPrefix("classy.monitoring") {
            #expect(!policy.access.allows(.user))
            #expect(policy.access.allows(.admin))
        }
        #expect(
            RPCPolicies.policy(for: Classy_Auth_V1_AuthService.Method.CreateServiceAccount.descriptor)?.access.allows(
                .admin) == false)
        #expect(
            RPCPolicies.policy(for: Classy_Users_V1_UsersService.Method.GetMe.descriptor)?.access.allows(.user) == true)
    }

    @Test("credential RPCs use the strict rate-limit family, health none")
    func rateFamilies() {
        let strict = Set(RPCPolicies.table.filter { $0.value.rateLimit == .credentials }.keys.map(\.method))
        #expect(strict == ["Register", "Login", "Refresh", "IssueServiceToken"])
        #expect(RPCPolicies.policy(for: Grpc_Health_V1_Health.Method.Check.descriptor)?.rateLimit == .unlimited)
    }
}
